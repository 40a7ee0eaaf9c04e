"""`migrate apply [PATH | --plan FILE]`: legacy -> hybrid, all files or none.

Shows the plan and asks first, unless ``--yes`` or ``--plan`` (a plan already reviewed).
Exit 3 uncommitted changes, 4 stale plan, 6 blocked by a manual step.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from migrate.commands._options import (
    allow_dirty_option,
    confirm,
    exclude_option,
    format_option,
    path_argument,
    yes_option,
)
from migrate.commands._output import Progress, colour_on, echo_json, echo_lines, next_step
from migrate.exit_codes import Exit

if TYPE_CHECKING:
    from migrate.apply import ApplyResult
    from migrate.plan import Plan


@click.command("apply")
@path_argument(default=None)
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Apply exactly this saved plan (refused if the tree changed since).",
)
@allow_dirty_option
@yes_option
@format_option("the result")
@exclude_option
def apply_command(
    path: Path | None,
    plan_file: Path | None,
    allow_dirty: bool,
    yes: bool,
    fmt: str,
    exclude: tuple[str, ...],
) -> None:
    """Enter the hybrid phase: issue JWTs, accept both kinds of token.

    Shows the plan and asks "Apply these changes?" unless --yes (or --plan, which applies
    a plan already reviewed); without a terminal it refuses unless --yes.
    Exit 3: uncommitted changes; 4: stale plan; 6: blocked by a manual step; 1: other
    errors (see `migrate --help`).
    """
    from migrate.outcome import already_there, applied_lines
    from migrate.render import render_text
    from migrate.transitions import apply_tree

    plan, path = _plan(path, plan_file, exclude)

    def ask() -> None:
        if plan_file is None and not yes:  # in json mode stdout is for the one JSON object
            click.echo(render_text(plan, colour=colour_on()), err=fmt == "json")
        confirm("Apply these changes?", yes or plan_file is not None, "apply without asking")

    result = apply_tree(plan, path, allow_dirty, ask)
    lines = [already_there(plan)] if result is None else applied_lines(plan, path, result)
    if fmt == "json":
        echo_json("apply", Exit.OK, _body(plan, path, result, lines))
        return
    echo_lines(lines)
    if result is not None:
        next_step(
            f"deploy and restart the server, then `migrate verify URL` and `migrate status {path}`"
        )


def _plan(path: Path | None, plan_file: Path | None, exclude: tuple[str, ...]) -> tuple[Plan, Path]:
    """The saved plan (PATH, if given, must be its tree: check_plan says so) or a new one."""
    from migrate.plan_file import load_plan
    from migrate.transitions import plan_tree

    if plan_file is not None:
        plan = load_plan(plan_file)
        return plan, Path(plan.root) if path is None else path
    path = Path(".") if path is None else path
    with Progress(f"migrate: reading the Python files under {path}"):
        return plan_tree(path, (), (), exclude), path


def _body(plan: Plan, path: Path, result: ApplyResult | None, lines: list[str]) -> dict[str, Any]:
    return {
        "root": str(path.resolve()),
        "phase": plan.phase_to if result is not None else plan.phase_from,
        "written": result.written if result is not None else [],
        "keys_generated": result.keys_generated if result is not None else False,
        "manual": plan.manual if result is not None else [],
        "messages": lines,
    }
