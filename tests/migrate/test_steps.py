"""The step registry is the one list of steps: plans, codemod modules and tests follow it."""

from __future__ import annotations

import pkgutil
import re
from pathlib import Path

import pytest

import migrate.codemods
from migrate import steps
from migrate.planner import plan_hybrid
from tests.migrate.tree_support import copy_sample

CODEMOD_TESTS = Path(__file__).parent / "codemods"
HELPERS = {"build", "edits", "spec"}  # modules of the package that are not codemods


def _codemod_modules() -> list[str]:
    return sorted(
        m.name for m in pkgutil.iter_modules(migrate.codemods.__path__) if m.name not in HELPERS
    )


def test_every_codemod_module_is_registered() -> None:
    """A codemod module left out of migrate.steps would never run."""
    assert sorted(steps.codemod_steps()) == _codemod_modules()


def test_step_ids_are_unique() -> None:
    ids = [s.id for s in steps.STEPS]
    assert len(ids) == len(set(ids))


def test_every_plan_step_is_registered(tmp_path: Path) -> None:
    """The sample's plan lists only registered steps and manual-N steps."""
    plan = plan_hybrid(copy_sample(tmp_path))
    registered = set(steps.ids_of("hybrid"))
    assert plan.steps
    for step in plan.steps:
        assert step.id in registered or re.fullmatch(r"manual-\d+", step.id), step.id


@pytest.mark.parametrize("module", _codemod_modules())
def test_every_codemod_has_a_mirrored_test_module(module: str) -> None:
    assert (CODEMOD_TESTS / f"test_{module}.py").is_file()


@pytest.mark.parametrize("module", _codemod_modules())
def test_every_codemod_has_a_no_op_case(module: str) -> None:
    """A codemod's test module holds at least one case that must produce no edit."""
    text = (CODEMOD_TESTS / f"test_{module}.py").read_text(encoding="utf-8")
    assert re.search(r"^def test_\w*(no_op|noop|changes_nothing|no_step|no_edit)", text, re.M)


@pytest.mark.parametrize("module", _codemod_modules())
def test_every_codemod_has_a_noop_fixture(module: str) -> None:
    """Each codemod's fixture group holds a ``noop_*`` case (checked in test_every_fixture)."""
    group = CODEMOD_TESTS / "fixtures" / module
    assert sorted(group.glob("noop_*")), f"no fixtures/{module}/noop_* case"
