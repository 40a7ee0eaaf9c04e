"""`migrate status`: the verdict as text and JSON, in each phase; the evidence rules are
test_status.py's."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.migrate.commands.support import applied_sample, run
from tests.migrate.lifecycle_support import record_hybrid_run
from tests.migrate.tree_support import copy_sample


@pytest.fixture
def hybrid(tmp_path: Path) -> Path:
    return applied_sample(tmp_path)


def test_legacy_tree_in_json_is_one_error_object(tmp_path: Path) -> None:
    """Before apply there is nothing to read: exit 1, and in json mode one JSON error."""
    project = copy_sample(tmp_path / "project")
    result = run("status", str(project), "--format", "json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["schema"] == "oauth-migrate/error/1"
    assert "run `migrate apply` first" in document["error"]


def test_not_ready_exits_7_without_a_next_line(hybrid: Path) -> None:
    """Opaque tokens just seen: exit 7, the report, and no `next: migrate finalize`."""
    started = time.time()
    record_hybrid_run(hybrid, started=started, opaque=[(started + 1, "client-a")])
    result = run("status", str(hybrid), at=started + 2)
    assert result.exit_code == 7, result.output
    assert "next:" not in result.stdout


def test_ready_names_the_next_command(hybrid: Path) -> None:
    """Ready: exit 0 and `next: migrate finalize PATH`."""
    started = time.time()
    record_hybrid_run(hybrid, started=started, opaque=[(started + 1, "client-a")])
    result = run("status", str(hybrid), at=started + 3 * 3600 + 120)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == f"next: migrate finalize {hybrid}"


def test_final_tree_has_nothing_to_wait_for(hybrid: Path) -> None:
    """After finalize, status exits 0 and says so, as text and as JSON."""
    finalized = run("finalize", str(hybrid), "--force", "--yes", "--allow-dirty")
    assert finalized.exit_code == 0, finalized.output
    text = run("status", str(hybrid))
    assert text.exit_code == 0
    assert text.stdout == "phase: final; finalize is done: JWT only, nothing to wait for\n"
    document = json.loads(run("status", str(hybrid), "--format", "json").stdout)
    assert (document["phase"], document["ready"], document["exit_code"]) == ("final", True, 0)
