"""`migrate rollback`: what the command prints, and its prompt before deleting the key."""

from __future__ import annotations

import json
from pathlib import Path

from tests.migrate.commands.support import applied_sample as applied
from tests.migrate.commands.support import run
from tests.migrate.tree_support import tree_bytes


def test_text_says_what_was_restored_and_what_next(tmp_path: Path) -> None:
    """Back to legacy: the files restored, the phase, and redeploy (no status to read)."""
    project = applied(tmp_path)
    result = run("rollback", str(project), "--yes")
    assert result.exit_code == 0, result.output
    first, second = result.stdout.splitlines()
    assert first.startswith("restored ") and first.endswith("; phase is now legacy")
    assert second == "next: redeploy and restart the server"


def test_json_lists_the_restored_files(tmp_path: Path) -> None:
    """`rollback --format json`: the phase it returned to and every file restored, sorted."""
    project = applied(tmp_path)
    written = json.loads((project / ".oauth-migration" / "state.json").read_text())
    files = sorted(written["history"][-1]["files"])
    document = json.loads(run("rollback", str(project), "--yes", "--format", "json").stdout)
    assert document["schema"] == "oauth-migrate/rollback/1"
    assert document["phase"] == "legacy"
    assert document["restored"] == files


def test_key_prompt_without_a_terminal_refuses_before_any_write(tmp_path: Path) -> None:
    """Without --yes and without a terminal, rollback refuses (64) and changes nothing."""
    project = applied(tmp_path)
    before = tree_bytes(project)
    result = run("rollback", str(project))
    assert result.exit_code == 64
    assert "pass --yes to delete it" in result.stderr
    assert tree_bytes(project) == before
