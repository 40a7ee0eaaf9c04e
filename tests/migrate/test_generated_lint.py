"""The code `apply` writes into a server passes the linters the server already passes.

The sample passes `ruff check` with ruff's default rules; after `apply` the files it
edited still do (the runtime import sits where isort puts it), and the runtime package
imports without a warning.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.migrate.cli_support import migrate
from tests.migrate.tree_support import copy_sample

RUFF = Path(sys.executable).with_name("ruff")


def _ruff(root: Path, files: list[str]) -> list[str]:
    """Ruff's findings with its default rules (no config file), as ``path:line code``."""
    done = subprocess.run(
        [str(RUFF), "check", "--isolated", "--output-format", "json", *files],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    return [f"{f['filename']}:{f['location']['row']} {f['code']}" for f in json.loads(done.stdout)]


@pytest.fixture
def migrated(tmp_path: Path) -> tuple[Path, list[str]]:
    """A copy of the sample after `apply`, and the server files apply edited."""
    root = copy_sample(tmp_path / "project")
    ran = migrate("plan", "--format", "json", str(root))
    edited = [c["path"] for c in json.loads(ran.stdout)["changes"] if not c["emitted"]]
    assert migrate("apply", "--yes", str(root)).code == 0
    return root, [p for p in edited if p.endswith(".py")]


@pytest.mark.skipif(not RUFF.exists(), reason="ruff is a test extra: pip install '.[test]'")
def test_the_sample_passes_ruff_before_apply(tmp_path: Path) -> None:
    """The baseline: the untouched sample has no ruff finding with the default rules."""
    root = copy_sample(tmp_path / "project")
    assert _ruff(root, ["sample_legacy"]) == []


@pytest.mark.skipif(not RUFF.exists(), reason="ruff is a test extra: pip install '.[test]'")
def test_files_apply_edits_pass_ruff(migrated: tuple[Path, list[str]]) -> None:
    """Every server file apply edited passes `ruff check` with the default rules (I001 too)."""
    root, edited = migrated
    assert edited, "apply edited no server file"
    assert _ruff(root, edited) == []


def test_the_runtime_package_imports_without_warnings(migrated: tuple[Path, list[str]]) -> None:
    """`python -W error -c "import <server>.oauth_migration"` works in the migrated tree."""
    root, _ = migrated
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", "import sample_legacy.oauth_migration"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
