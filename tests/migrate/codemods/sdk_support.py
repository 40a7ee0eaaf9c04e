"""The SDK provider findings of a tree, and its files as the codemods rewrite them.

The planner's SDK recipe runs these same codemods; here they run without it, so the tests
of the finder and of ``install_mcp`` do not depend on how the recipe is wired.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from migrate.codemods.edits import FileEdits, rewrite
from migrate.codemods.hybrid_gate import hybrid_gate
from migrate.codemods.install_mcp import install_mcp
from migrate.codemods.mint_jwt import mint_jwt
from migrate.codemods.revoke_on_delete import revoke_on_delete
from migrate.scan.deletes import Delete, find_deletes
from migrate.scan.providers import ProviderServer, find_provider_servers
from migrate.scan.source import SourceTree

CODEMODS = ("install_mcp", "mint_jwt", "hybrid_gate", "revoke_on_delete")
CASES = Path(__file__).parent / "fixtures" / "install_mcp"
SUFFIX = ".py.txt"


def copy_case(case: str, root: Path) -> Path:
    """Copy ``fixtures/install_mcp/<case>/`` into ``root``: ``*.py.txt`` become ``*.py``,
    other files (``requirements.txt``) are copied as they are."""
    source = CASES / case
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        rel = path.relative_to(source).as_posix()
        target = root / (rel.removesuffix(".txt") if rel.endswith(SUFFIX) else rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return root


def only_server(root: Path) -> tuple[SourceTree, ProviderServer]:
    tree = SourceTree(root)
    servers, manual = find_provider_servers(tree)
    assert len(servers) == 1, (servers, [m.render() for m in manual])
    return tree, servers[0]


def deletes_of(tree: SourceTree, server: ProviderServer) -> list[Delete]:
    return find_deletes(tree, server.token_store())


def edits_of(
    tree: SourceTree, server: ProviderServer, codemods: tuple[str, ...] = CODEMODS
) -> dict[str, FileEdits]:
    by_file: dict[str, FileEdits] = {}

    def add(rel: str, edits: FileEdits) -> None:
        by_file.setdefault(rel, FileEdits()).merge(edits)

    if "install_mcp" in codemods:
        add(server.server.source.rel, install_mcp(server.server))
    if "mint_jwt" in codemods:
        for mint in server.mints:
            add(mint.source.rel, mint_jwt(mint))
    if "hybrid_gate" in codemods and server.gate is not None:
        add(server.gate.source.rel, hybrid_gate(server.gate))
    if "revoke_on_delete" in codemods:
        deletes = deletes_of(tree, server)
        for rel in sorted({d.source.rel for d in deletes}):
            add(rel, revoke_on_delete([d for d in deletes if d.source.rel == rel]))
    return {rel: edits for rel, edits in by_file.items() if edits.edits}


def rewritten(root: Path, codemods: tuple[str, ...] = CODEMODS) -> dict[str, str]:
    """Path -> new text of each file the codemods change (re-parsed by ``rewrite``)."""
    tree, server = only_server(root)
    edits = edits_of(tree, server, codemods)
    return {rel: rewrite(tree.files[rel].module, e) for rel, e in sorted(edits.items())}


def write(root: Path, texts: dict[str, str]) -> None:
    for rel, text in texts.items():
        (root / rel).write_text(text, encoding="utf-8")
