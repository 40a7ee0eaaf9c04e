"""Saved plans (migrate/plan_file.py): written, read back, and refused when they are
not the plan that was reviewed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from migrate.errors import PlanFileError, StalePlan
from migrate.exit_codes import Exit
from migrate.plan_file import check_out, load_plan, save_plan
from migrate.planner import plan_hybrid
from migrate.render import plan_document
from tests.migrate.tree_support import copy_sample


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_sample(tmp_path / "project")


def test_a_saved_plan_reads_back_equal(project: Path, tmp_path: Path) -> None:
    """save_plan then load_plan gives the same plan."""
    plan = plan_hybrid(project)
    save_plan(plan, tmp_path / "plan.json")
    assert load_plan(tmp_path / "plan.json") == plan


def test_the_plan_json_document_is_a_saved_plan(project: Path, tmp_path: Path) -> None:
    """`plan --format json`'s document (with schema and exit code) loads as the plan."""
    plan = plan_hybrid(project)
    document = {"schema": "oauth-migrate/plan/2", "exit_code": 2, **plan_document(plan)}
    (tmp_path / "plan.json").write_text(json.dumps(document), encoding="utf-8")
    assert load_plan(tmp_path / "plan.json") == plan


@pytest.mark.parametrize("text", ["{not json", "[]", '{"root": 1}', "\udcff"])
def test_a_file_that_is_not_a_plan_is_stale(tmp_path: Path, text: str) -> None:
    """Malformed, or of the wrong shape: StalePlan, exit 4, naming the file."""
    path = tmp_path / "plan.json"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    with pytest.raises(StalePlan, match="plan.json") as refused:
        load_plan(path)
    assert refused.value.exit_code == Exit.STALE


def test_an_unreadable_plan_is_exit_1(tmp_path: Path) -> None:
    """A folder given as the plan: PlanFileError (exit 1), not a traceback."""
    with pytest.raises(PlanFileError, match="cannot read") as refused:
        load_plan(tmp_path)
    assert refused.value.exit_code == Exit.ERROR


def test_out_in_a_missing_folder_is_refused_before_planning(tmp_path: Path) -> None:
    """check_out and save_plan name the missing folder."""
    out = tmp_path / "missing" / "plan.json"
    with pytest.raises(PlanFileError, match="no such folder"):
        check_out(out)
    with pytest.raises(PlanFileError, match="no such folder"):
        save_plan(plan_hybrid(copy_sample(tmp_path / "project")), out)
