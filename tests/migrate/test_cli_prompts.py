"""apply, finalize and rollback ask first; without a terminal they refuse naming --yes."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.migrate.cli_support import migrate, migrate_on_pty
from tests.migrate.test_status import record_hybrid_run
from tests.migrate.tree_support import copy_sample, tree_bytes


def _code(project: Path) -> dict[str, bytes]:
    """The tree without the metrics files (reading them may add SQLite's -shm/-wal)."""
    return {k: v for k, v in tree_bytes(project).items() if "metrics.sqlite3" not in k}


def _applied(tmp_path: Path) -> Path:
    project = copy_sample(tmp_path / "project")
    assert migrate("apply", "--yes", str(project)).code == 0
    return project


def test_apply_without_a_tty_refuses_naming_yes(tmp_path: Path) -> None:
    """No terminal on stdin: apply exits 64, says to pass --yes, and writes nothing."""
    project = copy_sample(tmp_path / "project")
    before = tree_bytes(project)
    ran = migrate("apply", str(project))
    assert ran.code == 64, ran
    assert ran.stderr.splitlines()[-1] == (
        "Error: Apply these changes? needs an answer, and stdin is not a terminal: "
        "pass --yes to apply without asking"
    )
    assert "Aborted!" not in ran.stderr
    assert tree_bytes(project) == before


def test_apply_on_a_tty_answered_no_changes_nothing(tmp_path: Path) -> None:
    """On a terminal, answering n aborts with exit 1 and one line; the tree is untouched."""
    project = copy_sample(tmp_path / "project")
    before = tree_bytes(project)
    ran = migrate_on_pty("apply", str(project), answer="n\n")
    assert ran.code == 1, ran
    assert "Apply these changes? [y/N]" in ran.stderr
    assert ran.stderr.endswith("Error: aborted; nothing was changed\n")
    assert tree_bytes(project) == before


def test_apply_on_a_tty_answered_yes_applies(tmp_path: Path) -> None:
    """On a terminal, answering y applies and ends with the next step."""
    project = copy_sample(tmp_path / "project")
    ran = migrate_on_pty("apply", str(project), answer="y\n")
    assert ran.code == 0, ran
    assert "phase is now hybrid" in ran.stdout
    assert ran.stdout.rstrip().splitlines()[-1].startswith("next: deploy and restart")


def test_finalize_without_a_tty_refuses_naming_yes(tmp_path: Path) -> None:
    """finalize, once ready, still asks: without a terminal it exits 64 naming --yes."""
    project = _applied(tmp_path)
    started = time.time()
    record_hybrid_run(project, started=started)
    later = str(started + 2 * 3600)
    before = _code(project)
    ran = migrate("finalize", "--allow-dirty", str(project), env={"OAUTH_MIGRATE_NOW": later})
    assert ran.code == 64, ran
    assert "pass --yes to finalize" in ran.stderr.splitlines()[-1]
    assert _code(project) == before


def test_rollback_that_deletes_the_key_without_a_tty_refuses(tmp_path: Path) -> None:
    """Rolling back the apply deletes its key: without --yes and a terminal, exit 64."""
    project = _applied(tmp_path)
    before = tree_bytes(project)
    ran = migrate("rollback", str(project))
    assert ran.code == 64, ran
    assert ran.first_line == (
        "Error: Delete the signing key this apply generated? needs an answer, and stdin is "
        "not a terminal: pass --yes to delete it"
    )
    assert tree_bytes(project) == before


def test_rollback_with_yes_ends_with_the_next_step(tmp_path: Path) -> None:
    """rollback --yes restores the tree and says what to do next."""
    project = _applied(tmp_path)
    state = json.loads((project / ".oauth-migration" / "state.json").read_text(encoding="utf-8"))
    count = len(state["history"][-1]["files"])
    ran = migrate("rollback", "--yes", str(project))
    assert ran.code == 0, ran
    assert ran.stdout.splitlines() == [
        f"restored {count} files in {project}; phase is now legacy",
        "next: redeploy and restart the server",
    ]
