"""`migrate plan [PATH]`: what `apply` would change, and nothing written.

Exit 0 nothing to do, 2 changes pending, 6 blocked by a manual step; ``--out`` saves the
plan for `apply --plan`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from migrate.commands._options import (
    exclude_option,
    format_option,
    only_option,
    path_argument,
    skip_option,
)
from migrate.commands._output import Progress, colour_on, echo_json, next_step

if TYPE_CHECKING:
    from migrate.plan import Plan


@click.command("plan")
@path_argument()
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Save the plan.")
@format_option("the plan")
@only_option
@skip_option
@exclude_option
def plan_command(
    path: Path,
    out: Path | None,
    fmt: str,
    only: tuple[str, ...],
    skip: tuple[str, ...],
    exclude: tuple[str, ...],
) -> None:
    """Show what `apply` would change: findings, steps, manual steps, the diff.

    Exit 0 when there is nothing to do, 2 when changes are pending, 6 when apply would be
    blocked by a manual step, 1 on error (see `migrate --help` for every code).
    """
    from migrate.plan_file import check_out, save_plan
    from migrate.transitions import plan_tree

    if out is not None:
        check_out(out)
    with Progress(f"migrate: reading the Python files under {path}"):
        plan = plan_tree(path, only, skip, exclude)
    if out is not None:
        save_plan(plan, out)
    if fmt == "json":
        _print_json(plan, path)
    _print_text(plan, path, out)


def _print_json(plan: Plan, path: Path) -> NoReturn:
    """The plan as one JSON object (``recipe`` empty when no server was found)."""
    from migrate.outcome import plan_exit
    from migrate.render import plan_document

    code = plan_exit(plan)
    echo_json("plan", code, plan_document(plan))
    raise SystemExit(int(code))


def _print_text(plan: Plan, path: Path, out: Path | None) -> NoReturn:
    """The plan and the command to run next; only a line when no server was found."""
    from migrate.outcome import found_nothing, plan_exit
    from migrate.render import render_text

    if found_nothing(plan):
        click.echo("\n".join(plan.notes))
        raise SystemExit(int(plan_exit(plan)))
    click.echo(render_text(plan, colour=colour_on()), nl=False)
    if plan.blocked_by:
        next_step("do the manual steps above, then `migrate plan` again")
    elif plan.pending:
        next_step(f"migrate apply {f'--plan {out}' if out is not None else path}")
    else:
        next_step(f"nothing to apply; `migrate status {path}` tells where the tree stands")
    raise SystemExit(int(plan_exit(plan)))
