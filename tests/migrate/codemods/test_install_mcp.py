"""install-mcp: ``oauth_migration.install_mcp(<server>)`` right after the server is built.

Snapshots: ``snapshots/install_mcp/<case>/`` hold the files this codemod changes;
``snapshots/sdk_provider/<case>/`` the files the whole SDK change touches (install, the
unchanged ``mint_jwt``, ``hybrid_gate`` and ``revoke_on_delete`` on the provider's findings).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import libcst as cst
import pytest
from pytest_snapshot.plugin import Snapshot

from migrate.codemods.install_mcp import install_mcp
from migrate.scan.providers import find_provider_servers
from migrate.scan.source import SourceTree
from tests.migrate.codemods.cases import SNAPSHOTS
from tests.migrate.codemods.sdk_support import copy_case, only_server, rewritten, write

SERVERS = ("subclass_streamable", "duck_factory_run", "fastmcp_side_dict", "sse_json_store")


def snapshot_tree(texts: dict[str, str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path, text in texts.items():
        *folders, name = path.split("/")
        level = tree
        for folder in folders:
            level = level.setdefault(folder, {})
        level[f"{name.removesuffix('.py')}.after.py.txt"] = text
    return tree


@pytest.mark.parametrize("case", SERVERS)
def test_install_after_the_server_is_built(tmp_path: Path, snapshot: Snapshot, case: str) -> None:
    """One ``install_mcp`` line after the statement that builds the server, nothing else."""
    copy_case(case, tmp_path)
    texts = rewritten(tmp_path, ("install_mcp",))
    server = only_server(tmp_path)[1]
    assert list(texts) == [server.server.source.rel]
    added = f"oauth_migration.install_mcp({server.server.variable})"
    assert texts[server.server.source.rel].count(added) == 1
    snapshot.snapshot_dir = SNAPSHOTS / "install_mcp"
    snapshot.assert_match_dir(snapshot_tree(texts), case)


@pytest.mark.parametrize("case", SERVERS)
def test_whole_sdk_change(tmp_path: Path, snapshot: Snapshot, case: str) -> None:
    """Install, mints, gate and revocations together, as the SDK recipe applies them."""
    copy_case(case, tmp_path)
    texts = rewritten(tmp_path)
    for text in texts.values():
        cst.parse_module(text)
    snapshot.snapshot_dir = SNAPSHOTS / "sdk_provider"
    snapshot.assert_match_dir(snapshot_tree(texts), case)


def test_install_goes_right_after_the_statement(tmp_path: Path) -> None:
    """The line follows the construction, before the comments and code after it."""
    copy_case("subclass_streamable", tmp_path)
    text = rewritten(tmp_path, ("install_mcp",))["notes/server.py"]
    assert "    ),\n)\noauth_migration.install_mcp(mcp)\n\n\n@mcp.tool()" in text


def test_server_built_in_a_function(tmp_path: Path) -> None:
    """Inside a factory, the line goes after the construction, at the same indentation."""
    copy_case("subclass_streamable", tmp_path)
    (tmp_path / "notes" / "server.py").write_text(
        "from mcp.server.fastmcp import FastMCP\n"
        "from .provider import NotesProvider\n\n\n"
        "def create():\n"
        "    server = FastMCP('n', auth_server_provider=NotesProvider('bob'))  # the server\n"
        "    server.settings.port = 9000\n"
        "    return server\n",
        encoding="utf-8",
    )
    text = rewritten(tmp_path, ("install_mcp",))["notes/server.py"]
    assert (
        "    server = FastMCP('n', auth_server_provider=NotesProvider('bob'))  # the server\n"
        "    oauth_migration.install_mcp(server)\n"
        "    server.settings.port = 9000\n"
    ) in text


@pytest.mark.parametrize("case", ["noop_library_only", "starlette_server"])
def test_no_provider_no_edit(tmp_path: Path, case: str) -> None:
    """Library code and a hand-written Starlette server: no server found, so no edit."""
    copy_case(case, tmp_path)
    assert find_provider_servers(SourceTree(tmp_path)) == ([], [])


@pytest.mark.parametrize("case", SERVERS)
def test_already_migrated_server_gets_no_edit(tmp_path: Path, case: str) -> None:
    """A tree the SDK change was applied to: every codemod finds its work done."""
    copy_case(case, tmp_path)
    write(tmp_path, rewritten(tmp_path))
    tree, server = only_server(tmp_path)
    assert install_mcp(server.server).edits == []
    assert rewritten(tmp_path, ("install_mcp", "mint_jwt", "hybrid_gate")) == {}


@pytest.mark.parametrize("case", SERVERS)
def test_idempotent(tmp_path: Path, case: str) -> None:
    """Applying the whole change twice gives the text of applying it once."""
    copy_case(case, tmp_path)
    write(tmp_path, rewritten(tmp_path))
    once = {p.relative_to(tmp_path).as_posix(): p.read_text() for p in tmp_path.rglob("*.py")}
    write(tmp_path, rewritten(tmp_path))
    twice = {p.relative_to(tmp_path).as_posix(): p.read_text() for p in tmp_path.rglob("*.py")}
    assert once == twice
