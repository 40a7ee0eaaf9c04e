"""The SDK provider finder on copies of the shared zoo's four SDK servers.

Each was written by someone else in their own style; their READMEs state the SDK, how the
app is served and where tokens live, which is what is checked here. The findings are
printed (``pytest -s``) so a reader sees the mints, gate, server, app, SDK and store.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import libcst as cst
import pytest

from migrate.scan.providers import ProviderServer
from tests.migrate.codemods.sdk_support import only_server, rewritten, write
from tests.migrate.e2e_support import SHARED_DIR

ZOO_DIR = SHARED_DIR / "legacy_zoo"
# name -> (package, major, app method, persistent store), as each README states them
EXPECTED = {
    "sdk_streamable_app": ("mcp", 1, "streamable_http_app", False),
    "sdk_run_sqlite": ("mcp", 2, "run", True),
    "sdk_custom_routes_json": ("mcp", 2, "streamable_http_app", True),
    "fastmcp_provider": ("fastmcp", 4, "run", False),
}


def _copy(name: str, root: Path) -> Path:
    source = ZOO_DIR / name
    if not (source / "START").is_file():
        pytest.skip(
            f"no {name} in the legacy zoo at {ZOO_DIR} (the shared folder beside the repository)"
        )
    target = root / name
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", ".venv*"))
    return target


def _summary(server: ProviderServer) -> str:
    def code(node: cst.CSTNode) -> str:
        return cst.Module([]).code_for_node(node)

    lines = [
        f"provider {server.provider.name} ({server.provider.where})",
        f"server {server.server.variable} = {server.server.constructor}(...) ({server.where})",
        f"apps {[(a.method, a.variable, a.where) for a in server.apps]}",
        f"sdk {server.sdk.package} {server.sdk.major} ({server.sdk.evidence})",
        f"store {server.store.text}",
    ]
    for mint in server.mints:
        claims = {role: code(value) for role, value in mint.claims.items()}
        lines.append(f"mint {mint.where} {code(mint.expression)} {claims}")
    if server.gate is not None and server.gate.lookup is not None:
        lines.append(f"gate {server.gate.where} {code(server.gate.lookup.expression)}")
    lines += [f"decision {d.where}: {d.text}" for d in server.decisions]
    return "\n".join(lines)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_zoo_sdk_server_findings(tmp_path: Path, name: str) -> None:
    """One server, the SDK and app its README states, a mint with every claim, a gate."""
    root = _copy(name, tmp_path)
    _, server = only_server(root)
    print(f"\n== {name}\n{_summary(server)}")
    package, major, method, persistent = EXPECTED[name]
    assert (server.sdk.package, server.sdk.major) == (package, major)
    assert [a.method for a in server.apps] == [method]
    assert server.store.persistent is persistent
    assert server.mints and all(not m.migrated for m in server.mints)
    for mint in server.mints:
        assert {"subject", "client_id", "scope"} <= set(mint.claims), mint.where
    assert server.gate is not None and server.gate.lookup is not None


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_zoo_sdk_server_rewrites_once(tmp_path: Path, name: str) -> None:
    """The SDK change parses, touches the server's construction, and a second pass is a no-op."""
    root = _copy(name, tmp_path)
    texts = rewritten(root)
    _, server = only_server(root)
    assert server.server.source.rel in texts
    for text in texts.values():
        cst.parse_module(text)
    write(root, texts)
    _, again = only_server(root)
    assert again.server.migrated and all(m.migrated for m in again.mints)
    assert rewritten(root, ("install_mcp", "mint_jwt", "hybrid_gate")) == {}
