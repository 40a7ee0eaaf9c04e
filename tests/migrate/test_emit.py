"""The runtime package apply writes: every shim, a wiring for the target, its import line."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from migrate import emit
from shims.policy import DEFAULT_LIFETIME

SHIMS = Path(__file__).resolve().parents[2] / "shims"


def test_every_shim_module_is_emitted_as_it_is() -> None:
    """shim_files holds every .py of shims/, byte for byte."""
    files = emit.shim_files()
    assert sorted(files) == sorted(p.name for p in SHIMS.glob("*.py"))
    for name, text in files.items():
        assert text == (SHIMS / name).read_text(encoding="utf-8"), name


@pytest.mark.parametrize(("package_dir", "depth"), [("", 1), ("notes", 2), ("src/notes", 3)])
def test_the_wiring_finds_the_state_folder_from_where_it_sits(package_dir: str, depth: int) -> None:
    """wiring.py climbs to the tree's root (one level more per folder) for .oauth-migration."""
    text = emit.wiring(package_dir, mode="hybrid", lifetime=900)
    ast.parse(text)
    assert f'STATE = Path(__file__).resolve().parents[{depth}] / ".oauth-migration"' in text
    assert 'mode="hybrid"' in text and "lifetime=900," in text
    assert emit.wiring_lifetime(text) == 900


def test_emitted_files_put_the_package_under_its_folder() -> None:
    """Every shim plus wiring.py under <package_dir>/oauth_migration/, in the phase asked."""
    files = emit.emitted_files("notes", mode="final")
    assert set(files) == {f"notes/oauth_migration/{n}" for n in [*emit.shim_files(), "wiring.py"]}
    assert 'mode="final"' in files["notes/oauth_migration/wiring.py"]


def test_a_wiring_without_a_lifetime_reads_as_the_default() -> None:
    assert emit.wiring_lifetime("migration = DeferredMigration()") == DEFAULT_LIFETIME


@pytest.mark.parametrize(
    ("wiring_rel", "package_dir"),
    [("oauth_migration/wiring.py", ""), ("notes/oauth_migration/wiring.py", "notes"),
     ("src/notes/oauth_migration/wiring.py", "src/notes")],
)  # fmt: skip
def test_the_package_folder_is_read_back_from_the_wiring_path(
    wiring_rel: str, package_dir: str
) -> None:
    assert emit.package_dir_of(wiring_rel) == package_dir


@pytest.mark.parametrize(
    ("package_dir", "rel", "head"),
    [("", "app.py", "from oauth_migration"), ("notes", "notes/app.py", "from .oauth_migration"),
     ("notes", "notes/api/v1.py", "from ..oauth_migration")],
)  # fmt: skip
def test_the_import_line_is_relative_inside_a_package(
    package_dir: str, rel: str, head: str
) -> None:
    """At the root an absolute import; inside a package one dot per level up to it."""
    line = f"{head}.wiring import migration as oauth_migration"
    assert emit.import_line(package_dir, rel) == line


def test_wiring_keeps_the_mcp_path_it_was_given() -> None:
    """The MCP path the plan found is written into wiring.py and read back by finalize."""
    text = emit.wiring("svc", mode="hybrid", mcp_path="/api/mcp")
    assert 'mcp_path="/api/mcp"' in text
    assert emit.wiring_mcp_path(text) == "/api/mcp"
    assert emit.wiring_mcp_path("no path here") == emit.DEFAULT_MCP_PATH
