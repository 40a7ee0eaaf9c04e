"""A server given a provider the scan cannot follow, in a tree that holds one provider
class: the class is taken for the server's provider only when nothing says otherwise. A
provider imported from a package outside the tree (``from authkit import GitHubProvider``)
is not that class: assuming it would migrate an unused class, install the runtime, and
let finalize call a server "JWT only" whose real provider still mints and accepts opaque
tokens (migrate/scan/providers.py ``find_provider_servers``)."""

from __future__ import annotations

from pathlib import Path

from migrate.scan.providers import find_provider_servers
from migrate.scan.source import SourceTree

FIXTURE = Path(__file__).resolve().parents[1] / "codemods/fixtures/install_mcp/subclass_streamable"


def _tree(root: Path, provider_argument: str, extra_import: str = "") -> SourceTree:
    (root / "notes").mkdir(parents=True)
    for name in ("__init__.py", "provider.py"):
        text = (FIXTURE / "notes" / f"{name}.txt").read_text(encoding="utf-8")
        (root / "notes" / name).write_text(text, encoding="utf-8")
    server = (FIXTURE / "notes" / "server.py.txt").read_text(encoding="utf-8")
    server = server.replace("auth_server_provider=provider,", provider_argument)
    server = server.replace(
        "from .provider import NotesProvider\n",
        extra_import + "from .provider import NotesProvider\n",
    )
    (root / "notes" / "server.py").write_text(server, encoding="utf-8")
    return SourceTree(root)


def test_a_provider_imported_from_outside_the_tree_is_not_assumed(tmp_path: Path) -> None:
    tree = _tree(
        tmp_path,
        "auth_server_provider=GitHubProvider(client_id='x'),",
        "from authkit.providers import GitHubProvider\n",
    )
    servers, manual = find_provider_servers(tree)
    assert servers == []
    assert [m.blocks_apply for m in manual] == [True]


def test_a_provider_held_where_the_scan_cannot_look_is_still_the_one_class(
    tmp_path: Path,
) -> None:
    """``registry["notes"]``: nothing names another class; the tree's one class is it."""
    tree = _tree(tmp_path, "auth_server_provider=REGISTRY['notes'],")
    servers, _ = find_provider_servers(tree)
    assert [s.provider.name for s in servers] == ["NotesProvider"]
