"""`migrate plan`, `migrate apply` and `migrate rollback`: thin commands over one engine.

The engine (planner, codemods, apply) is imported inside each command, so `--help` does
not pay for libcst. Every refusal is a :class:`MigrateError` with its documented code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from migrate.cli_support import (
    Progress,
    colour_on,
    confirm,
    echo_json,
    exclude_option,
    format_option,
    next_step,
    path_argument,
)
from migrate.exit_codes import Exit, MigrateError

if TYPE_CHECKING:
    from migrate.apply import ApplyResult
    from migrate.plan import Plan

# The hybrid step ids of migrate.steps, spelt out so `--help` need not import the planner (a test
# keeps the two equal).
STEP_IDS = (
    "keys, emit-runtime, wrap-metadata, mint-jwt, hybrid-gate, revoke-on-delete, "
    "install-runtime, requirements, gitignore"
)
step_options = [
    click.option(
        "--only", multiple=True, metavar="ID", help=f"Keep only these step ids ({STEP_IDS})."
    ),
    click.option("--skip", multiple=True, metavar="ID", help="Leave out these step ids."),
]


def _plan(
    path: Path, only: tuple[str, ...], skip: tuple[str, ...], exclude: tuple[str, ...] = ()
) -> Plan:
    from migrate.planner import PlanError, check_selection, plan_hybrid
    from migrate.state import StateError

    try:
        check_selection(only, skip)
        with Progress(f"migrate: reading the Python files under {path}"):
            return plan_hybrid(path, only, skip, exclude)
    except (PlanError, StateError) as problem:
        message = str(problem)
        if message.startswith("unknown step id"):  # a bad option value: say the good ones
            raise MigrateError(f"{message} (the step ids: {STEP_IDS})", Exit.USAGE) from None
        raise MigrateError(message) from None


def _plan_code(plan: Plan) -> Exit:
    if plan.blocked_by:
        return Exit.BLOCKED
    return Exit.PENDING if plan.pending else Exit.OK


def _save(plan: Plan, out: Path) -> None:
    try:
        out.write_text(plan.to_json(), encoding="utf-8")
    except OSError as problem:
        reason = problem.strerror or str(problem)
        if not out.parent.is_dir():
            reason = f"no such folder {out.parent}"
        raise MigrateError(f"--out {out}: cannot write the plan ({reason})") from None


@click.command("plan")
@path_argument()
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Save the plan.")
@format_option("the plan")
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

    Exit 0 when there is nothing to do, 2 when changes are pending, 6 when apply would be
    blocked by a manual step, 1 on error (see `migrate --help` for every code).
    """
    from migrate.render import plan_document, render_text

    if out is not None and not out.parent.is_dir():
        raise MigrateError(f"--out {out}: no such folder {out.parent}")
    plan = _plan(path, only, skip, exclude)
    if out is not None:
        _save(plan, out)
    code = _plan_code(plan)
    if fmt == "json":
        echo_json("plan", code, plan_document(plan))
    elif _found_nothing(plan):
        click.echo("\n".join(plan.notes))
    else:
        click.echo(render_text(plan, colour=colour_on()), nl=False)
    if fmt == "text" and not _found_nothing(plan):
        _plan_next(plan, path, out)
    raise SystemExit(int(code))


def _plan_next(plan: Plan, path: Path, out: Path | None) -> None:
    if plan.blocked_by:
        next_step("do the manual steps above, then `migrate plan` again")
    elif plan.pending:
        target = f"--plan {out}" if out is not None else str(path)
        next_step(f"migrate apply {target}")
    else:
        next_step(f"nothing to apply; `migrate status {path}` tells where the tree stands")


def _found_nothing(plan: Plan) -> bool:
    """No recipe recognised a server: the wrong folder, not a finished migration."""
    return not plan.recipe


def _load_plan(plan_file: Path) -> Plan:
    from migrate.plan import Plan

    try:
        text = plan_file.read_text(encoding="utf-8")
        data = json.loads(text)
        if isinstance(data, dict) and "schema" in data:
            # The `plan --format json` document: a saved plan plus its schema name and code.
            for added in ("schema", "exit_code", "pending"):
                data.pop(added, None)
            text = json.dumps(data)
        return Plan.from_json(text)
    except (ValueError, UnicodeDecodeError) as problem:
        # Exit 4: a saved plan that is malformed or edited is not the plan that was reviewed.
        raise MigrateError(f"{plan_file}: {problem}", Exit.STALE) from None
    except OSError as problem:
        raise MigrateError(f"{plan_file}: cannot read ({problem.strerror})") from None


@click.command("apply")
@path_argument(default=None)
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Apply exactly this saved plan (refused if the tree changed since).",
)
@click.option("--allow-dirty", is_flag=True, help="Apply over uncommitted changes.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (needed without a TTY).")
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
    from migrate.render import render_text

    if plan_file is not None:
        plan = _load_plan(plan_file)
        # A PATH given with --plan must be the tree the plan was made for (check_plan).
        path = Path(plan.root) if path is None else path
    else:
        path = Path(".") if path is None else path
        plan = _plan(path, (), (), exclude)
    if not plan.pending:
        _nothing_to_apply(plan, path, fmt)
        return
    _check(plan, path, allow_dirty)
    if plan_file is None and not yes:  # in json mode stdout is for the one JSON object
        click.echo(render_text(plan, colour=colour_on()), err=fmt == "json")
    confirm("Apply these changes?", yes or plan_file is not None, "apply without asking")
    result = _write(plan, path)
    _report_written(plan, path, result, fmt)


def _nothing_to_apply(plan: Plan, path: Path, fmt: str) -> None:
    message = f"nothing to apply: the tree is already in the {plan.phase_from} phase"
    if _found_nothing(plan):
        from migrate.planner import NOTHING_FOUND

        message = f"nothing to apply: {NOTHING_FOUND} under {path}"
    if fmt == "json":
        echo_json("apply", Exit.OK, _apply_body(plan, path, None, [message]))
        return
    click.echo(message)


# The engine's refusals (ApplyRefused) are MigrateErrors carrying their exit code: they
# reach the command line's one report as they are.
def _check(plan: Plan, path: Path, allow_dirty: bool) -> None:
    from migrate.apply import check_plan

    check_plan(plan, path, allow_dirty)


def _write(plan: Plan, path: Path) -> ApplyResult:
    from migrate.apply import apply_plan

    return apply_plan(plan, path)


def _report_written(plan: Plan, path: Path, result: ApplyResult, fmt: str) -> None:
    from migrate.render import keys_line, manual_steps_left

    root = path.resolve()
    lines = []
    if result.keys_generated:
        lines.append(keys_line(root))
    lines.append(f"wrote {len(result.written)} files in {root}; phase is now {plan.phase_to}")
    lines += manual_steps_left(plan)
    if fmt == "json":
        echo_json("apply", Exit.OK, _apply_body(plan, path, result, lines))
        return
    for line in lines:
        click.echo(line)
    next_step(
        f"deploy and restart the server, then `migrate verify URL` and `migrate status {path}`"
    )


def _apply_body(
    plan: Plan, path: Path, result: ApplyResult | None, messages: list[str]
) -> dict[str, Any]:
    return {
        "root": str(path.resolve()),
        "phase": plan.phase_to if result is not None else plan.phase_from,
        "written": result.written if result is not None else [],
        "keys_generated": result.keys_generated if result is not None else False,
        "manual": plan.manual if result is not None else [],
        "messages": messages,
    }


@click.command("rollback")
@path_argument()
@click.option("--yes", is_flag=True, help="Do not ask before deleting the signing key.")
@format_option("the result")
def rollback_command(path: Path, yes: bool, fmt: str) -> None:
    """Restore every file the last apply or finalize touched, byte for byte.

    Undoing the apply deletes the signing key it generated: that asks first, unless --yes
    (without a terminal it refuses unless --yes). Exit 5 when those files were edited
    since (nothing is changed then); 1 when there is nothing to roll back.
    """
    from migrate.apply import rollback
    from migrate.state import StateError, read_state

    try:
        history = read_state(path).history
        if history and history[-1].keys_generated:
            confirm("Delete the signing key this apply generated?", yes, "delete it")
        undone = rollback(path)
    except StateError as problem:
        raise MigrateError(str(problem)) from None
    message = f"restored {len(undone.files)} files in {path.resolve()}"
    message += f"; phase is now {undone.phase_from}"
    if fmt == "json":
        body = {"root": str(path.resolve()), "phase": undone.phase_from}
        echo_json("rollback", Exit.OK, {**body, "restored": sorted(undone.files)})
        return
    click.echo(message)
    next_step(
        "redeploy and restart the server"
        + (f", then `migrate status {path}`" if undone.phase_from == "hybrid" else "")
    )
