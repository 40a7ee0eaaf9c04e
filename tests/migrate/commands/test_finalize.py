"""`migrate finalize`: --plan-only, the readiness refusal with its evidence, --force's
warnings, the JSON result; the final codemods are test_finalize.py's."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.migrate.commands.support import applied_sample, run
from tests.migrate.lifecycle_support import record_hybrid_run, snapshot


@pytest.fixture
def hybrid(tmp_path: Path) -> Path:
    return applied_sample(tmp_path)


def test_plan_only_shows_the_diff_and_writes_nothing(hybrid: Path) -> None:
    """--plan-only exits 2 (changes pending) and leaves every byte as it was."""
    before = snapshot(hybrid)
    result = run("finalize", str(hybrid), "--plan-only")
    assert result.exit_code == 2, result.output
    assert "final" in result.stdout
    assert snapshot(hybrid) == before


def test_not_ready_prints_the_evidence_then_the_refusal(hybrid: Path) -> None:
    """Exit 7: the status report on stderr first, then one line saying when to retry."""
    started = time.time()
    record_hybrid_run(hybrid, started=started, opaque=[(started + 1, "client-a")])
    before = snapshot(hybrid)
    result = run("finalize", str(hybrid), "--yes", "--allow-dirty", at=started + 2)
    assert result.exit_code == 7, result.output
    report, refusal = result.stderr.rsplit("Error: ", 1)
    assert "not ready" in report.lower()
    assert refusal.startswith("refusing, status is not ready") and "--force" in refusal
    assert snapshot(hybrid) == before


def test_force_without_evidence_warns_and_finalizes(hybrid: Path) -> None:
    """No metrics at all: --force says there is no evidence, then writes the final phase."""
    result = run("finalize", str(hybrid), "--force", "--yes", "--allow-dirty")
    assert result.exit_code == 0, result.output
    assert "warning: no evidence" in result.stderr
    assert "phase is now final" in result.stdout


def test_without_evidence_and_without_force_says_how_to_go_on(hybrid: Path) -> None:
    """No metrics and no --force: exit 1, naming --force, nothing written."""
    before = snapshot(hybrid)
    result = run("finalize", str(hybrid), "--yes", "--allow-dirty")
    assert result.exit_code == 1, result.output
    assert "(or finalize anyway with --force)" in result.stderr
    assert snapshot(hybrid) == before


def test_json_result_and_a_second_run(hybrid: Path) -> None:
    """`--format json`: phase final and the files written; again: nothing to finalize."""
    first = run("finalize", str(hybrid), "--force", "--yes", "--allow-dirty", "--format", "json")
    document = json.loads(first.stdout)
    assert document["schema"] == "oauth-migrate/finalize/1"
    assert document["phase"] == "final" and document["written"]
    again = json.loads(
        run("finalize", str(hybrid), "--yes", "--allow-dirty", "--format", "json").stdout
    )
    assert again["written"] == []
    assert again["messages"] == ["nothing to finalize: the tree is already in the final phase"]
