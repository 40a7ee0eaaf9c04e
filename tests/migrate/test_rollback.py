"""The rollback engine (migrate/rollback.py) called directly: its refusals and its
key-removal question, asked before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrate.apply import apply_plan
from migrate.errors import EditedSinceApply, NothingToRollBack
from migrate.exit_codes import Exit
from migrate.finalizer import plan_final
from migrate.planner import plan_hybrid
from migrate.rollback import rollback
from tests.migrate.tree_support import copy_sample, tree_bytes


class Refused(Exception):
    """What a person answering "no" to the key question amounts to."""


def refuse() -> None:
    raise Refused


@pytest.fixture
def applied(tmp_path: Path) -> Path:
    project = copy_sample(tmp_path / "project")
    apply_plan(plan_hybrid(project), project)
    return project


def test_nothing_recorded_is_exit_1(tmp_path: Path) -> None:
    """A tree never applied: NothingToRollBack, exit 1."""
    project = copy_sample(tmp_path / "project")
    with pytest.raises(NothingToRollBack) as refused:
        rollback(project)
    assert refused.value.exit_code == Exit.ERROR


def test_an_edit_since_the_apply_is_exit_5_and_names_the_file(applied: Path) -> None:
    """An edited file: EditedSinceApply (exit 5), naming it; nothing restored."""
    oauth = applied / "sample_legacy" / "oauth.py"
    oauth.write_text(oauth.read_text() + "\n# mine\n", encoding="utf-8")
    before = tree_bytes(applied)
    with pytest.raises(EditedSinceApply, match="sample_legacy/oauth.py") as refused:
        rollback(applied)
    assert refused.value.exit_code == Exit.EDITED
    assert tree_bytes(applied) == before


def test_the_key_question_comes_before_any_write(applied: Path) -> None:
    """Answering no to deleting the generated key leaves every byte, the key included."""
    before = tree_bytes(applied)
    with pytest.raises(Refused):
        rollback(applied, ask_key_removal=refuse)
    assert tree_bytes(applied) == before


def test_the_key_question_is_asked_only_for_a_generated_key(applied: Path) -> None:
    """Undoing finalize (which made no key) does not ask; undoing the apply asks once."""
    apply_plan(plan_final(applied), applied)
    asked: list[str] = []
    assert rollback(applied, ask_key_removal=lambda: asked.append("final")).phase_to == "final"
    assert asked == []
    assert rollback(applied, ask_key_removal=lambda: asked.append("hybrid")).phase_to == "hybrid"
    assert asked == ["hybrid"]
    assert not (applied / ".oauth-migration").exists()
