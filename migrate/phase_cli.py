"""`migrate plan`, `migrate apply` and `migrate rollback`: thin commands over one engine."""

from __future__ import annotations

from pathlib import Path

import click

from migrate.apply import ApplyRefused, apply_plan, check_plan, rollback
from migrate.exit_codes import Exit, MigrateError
from migrate.plan import Plan
from migrate.planner import PlanError, check_selection, plan_hybrid
from migrate.render import manual_steps_left, render_text
from migrate.state import StateError

EXIT_NOTHING = 0
EXIT_PENDING = 2
EXIT_ERROR = 1

path_argument = click.argument(
    "path", required=False, default=".", type=click.Path(file_okay=False, path_type=Path)
)
step_options = [
    click.option("--only", multiple=True, metavar="ID", help="Keep only these step ids."),
    click.option("--skip", multiple=True, metavar="ID", help="Leave out these step ids."),
]
exclude_option = click.option(
    "--exclude",
    multiple=True,
    metavar="GLOB",
    help="Leave out of the scan the files whose path under PATH, name or folder matches.",
)


def _plan(
    path: Path, only: tuple[str, ...], skip: tuple[str, ...], exclude: tuple[str, ...] = ()
) -> Plan:
    try:
        check_selection(only, skip)
        return plan_hybrid(path, only, skip, exclude)
    except (PlanError, StateError) as problem:
        raise click.ClickException(str(problem)) from None


@click.command("plan")
@path_argument
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Save the plan.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@step_options[0]
@step_options[1]
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

    Exit 0 when there is nothing to do, 2 when changes are pending, 1 on error.
    """
    plan = _plan(path, only, skip, exclude)
    if out is not None:
        out.write_text(plan.to_json(), encoding="utf-8")
    click.echo(plan.to_json() if fmt == "json" else render_text(plan), nl=False)
    if not plan.pending and _found_nothing(plan):
        click.echo(f"migrate plan: no OAuth server code found under {path}", err=True)
        raise SystemExit(EXIT_ERROR)
    raise SystemExit(EXIT_PENDING if plan.pending else EXIT_NOTHING)


def _found_nothing(plan: Plan) -> bool:
    """No metadata, mint, gate or app at all: the wrong folder, not a finished migration."""
    return all(finding["kind"] == "store" for finding in plan.findings)


@click.command("apply")
@click.argument("path", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Apply exactly this saved plan (refused if the tree changed since).",
)
@click.option("--allow-dirty", is_flag=True, help="Apply over uncommitted changes.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@exclude_option
def apply_command(
    path: Path | None,
    plan_file: Path | None,
    allow_dirty: bool,
    yes: bool,
    exclude: tuple[str, ...],
) -> None:
    """Enter the hybrid phase: issue JWTs, accept both kinds of token.

    Exit 3: uncommitted changes; 4: stale plan; 1: other errors.
    """
    if plan_file is not None:
        try:
            plan = Plan.from_json(plan_file.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as problem:
            raise MigrateError(f"{plan_file}: {problem}", Exit.STALE) from None
        # A PATH given with --plan must be the tree the plan was made for (check_plan).
        path = Path(plan.root) if path is None else path
    else:
        path = Path(".") if path is None else path
        plan = _plan(path, (), (), exclude)
    if not plan.pending:
        if _found_nothing(plan):
            click.echo(f"migrate apply: no OAuth server code found under {path}", err=True)
            raise SystemExit(EXIT_ERROR)
        click.echo("nothing to apply: the tree is already in the hybrid phase")
        return
    try:
        check_plan(plan, path, allow_dirty)
    except ApplyRefused as refused:
        click.echo(f"migrate apply: {refused}", err=True)
        raise SystemExit(refused.exit_code) from None
    if not yes and plan_file is None:
        click.echo(render_text(plan))
        click.confirm("Apply these changes?", abort=True)
    result = apply_plan(plan, path)
    if result.keys_generated:
        click.echo("generated a signing key in .oauth-migration/keys (git-ignored)")
    click.echo(f"wrote {len(result.written)} files; phase is now {plan.phase_to}")
    for line in manual_steps_left(plan):
        click.echo(line)


@click.command("rollback")
@path_argument
def rollback_command(path: Path) -> None:
    """Restore every file the last apply touched, byte for byte.

    Exit 5 when those files were edited since (nothing is changed then).
    """
    try:
        undone = rollback(path)
    except ApplyRefused as refused:
        click.echo(f"migrate rollback: {refused}", err=True)
        raise SystemExit(refused.exit_code) from None
    except StateError as problem:
        raise click.ClickException(str(problem)) from None
    click.echo(f"restored {len(undone.files)} files; phase is now {undone.phase_from}")
