"""Colour on a terminal only: the plan's diff and step kinds, verify's verdicts.

Real ptys (``os.openpty``): the command sees a terminal exactly as in a shell.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.migrate.cli_support import migrate, migrate_on_pty
from tests.migrate.tree_support import copy_sample

ESC = "\x1b["
GREEN_ADDED = "\x1b[32m+"
RED_REMOVED = "\x1b[31m-"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_sample(tmp_path / "project")


def test_plan_on_a_terminal_colours_the_diff_and_steps(project: Path) -> None:
    """On a pty, added lines are green, removed lines red, `safe` steps green."""
    ran = migrate_on_pty("plan", str(project))
    assert ran.code == 2, ran
    assert GREEN_ADDED in ran.stdout
    assert RED_REMOVED in ran.stdout
    assert "\x1b[32msafe" in ran.stdout


def test_plan_piped_is_plain(project: Path) -> None:
    """Piped (not a terminal), the plan has no escape sequence at all."""
    ran = migrate("plan", str(project))
    assert ran.code == 2, ran
    assert ESC not in ran.stdout + ran.stderr


def test_no_color_turns_colour_off_on_a_terminal(project: Path) -> None:
    """NO_COLOR set (to anything, even empty) keeps a terminal's output plain."""
    ran = migrate_on_pty("plan", str(project), env={"NO_COLOR": ""})
    assert ran.code == 2, ran
    assert "--- a/sample_legacy/auth.py" in ran.stdout
    assert ESC not in ran.stdout
