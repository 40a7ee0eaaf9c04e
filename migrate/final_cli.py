"""`migrate status` and `migrate finalize`: the end of the hybrid period.

The finalizer and the status reader are imported inside each command, so `--help` stays
fast. Finalize asks before it writes (it ends opaque tokens), unless --yes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from migrate.cli_support import (
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
    from migrate.status import Status

prometheus_option = click.option(
    "--prometheus", metavar="URL", help="Read the metrics from this Prometheus server."
)


def status(path: Path, prometheus: str | None = None) -> Status:
    """The status of a hybrid tree (a name tests can replace)."""
    from migrate import status as reader

    return reader.status(path, prometheus=prometheus)


def _phase(path: Path) -> str:
    from migrate.state import StateError, read_state

    try:
        return read_state(path).phase
    except StateError as problem:
        raise MigrateError(str(problem)) from None


def _status(path: Path, prometheus: str | None) -> Status:
    from migrate.state import StateError
    from migrate.status import StatusError

    try:
        return status(path, prometheus=prometheus)
    except (StatusError, StateError) as problem:
        raise MigrateError(str(problem)) from None


@click.command("status")
@path_argument()
@prometheus_option
@format_option("the verdict and its evidence")
def status_command(path: Path, prometheus: str | None, fmt: str) -> None:
    """Read the hybrid-period metrics and say whether finalize is safe.

    Exit 0 when ready (or already final), 7 when not ready yet, 1 on error.
    """
    from migrate.status import render_status

    phase = _phase(path)
    if phase == "final":
        _report_final(path, fmt)
        return
    if phase != "hybrid":
        raise MigrateError(f"{path.resolve()} is in the {phase} phase: run `migrate apply` first")
    result = _status(path, prometheus)
    code = Exit.OK if result.ready else Exit.NOT_READY
    if fmt == "json":
        echo_json("status", code, result.document())
    else:
        click.echo(render_status(result), nl=False)
        if result.ready:
            next_step(f"migrate finalize {path}")
    raise SystemExit(int(code))


def _report_final(path: Path, fmt: str) -> None:
    message = "finalize is done: JWT only, nothing to wait for"
    if fmt == "json":
        echo_json("status", Exit.OK, {"phase": "final", "ready": True, "reason": message})
        return
    click.echo(f"phase: final; {message}")


@click.command("finalize")
@path_argument()
@prometheus_option
@click.option("--force", is_flag=True, help="Finalize although status is not ready.")
@click.option("--plan-only", is_flag=True, help="Show the diff; change nothing.")
@click.option("--allow-dirty", is_flag=True, help="Apply over uncommitted changes.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (needed without a TTY).")
@format_option("the result")
@exclude_option
def finalize_command(
    path: Path,
    prometheus: str | None,
    force: bool,
    plan_only: bool,
    allow_dirty: bool,
    yes: bool,
    fmt: str,
    exclude: tuple[str, ...],
) -> None:
    """Remove the opaque-token path: JWT only (JWKS, introspection, discovery stay).

    Refuses (exit 7) until `status` says ready, unless --force; asks "Finalize?" before it
    writes, unless --yes (without a terminal it refuses unless --yes). Exit 2 with
    --plan-only when changes are pending; 3: uncommitted changes; 6: blocked by a manual
    step (legacy code finalize cannot change; with --force too); 1: other errors (see
    `migrate --help`).
    """
    from migrate.apply import apply_plan, check_plan
    from migrate.finalizer import plan_final
    from migrate.planner import PlanError
    from migrate.render import render_text
    from migrate.state import StateError

    try:
        plan = plan_final(path, exclude)
    except (PlanError, StateError) as problem:
        raise MigrateError(str(problem)) from None
    if plan_only:
        click.echo(render_text(plan, colour=colour_on()), nl=False)
        raise SystemExit(int(Exit.PENDING if plan.pending else Exit.OK))
    if not plan.pending:
        _finalized(path, [], ["nothing to finalize: the tree is already in the final phase"], fmt)
        return
    # check_plan's refusals carry their exit code (6 blocked, 3 dirty, 4 stale). A blocked
    # plan is refused before readiness is read: waiting cannot help it (--force neither).
    if plan.blocked_by:
        check_plan(plan, path, allow_dirty)
    _check_ready(path, prometheus, force)
    check_plan(plan, path, allow_dirty)
    confirm("Finalize? Opaque tokens will be refused from the next deploy on", yes, "finalize")
    result = apply_plan(plan, path)
    _finalized(path, result.written, _written_lines(path, plan, result.written), fmt)


def _written_lines(path: Path, plan: Any, written: list[str]) -> list[str]:
    from migrate.render import key_folder_ignored, manual_steps_left

    noun = "file" if len(written) == 1 else "files"
    lines = [f"wrote {len(written)} {noun} in {path.resolve()}; phase is now final"]
    if not key_folder_ignored(path.resolve()):
        lines.append(
            "warning: the key folder could not be git-ignored (not a git work tree): "
            "keep .oauth-migration/keys out of version control"
        )
    return lines + manual_steps_left(plan)


def _finalized(path: Path, written: list[str], lines: list[str], fmt: str) -> None:
    if fmt == "json":
        body = {"root": str(path.resolve()), "phase": "final", "written": written}
        echo_json("finalize", Exit.OK, {**body, "messages": lines})
        return
    for line in lines:
        click.echo(line)
    if written:
        next_step("deploy and restart the server, then `migrate verify URL`")


def _check_ready(path: Path, prometheus: str | None, force: bool) -> None:
    from migrate.state import StateError
    from migrate.status import StatusError, render_status

    try:
        result = status(path, prometheus=prometheus)
    except (StatusError, StateError) as problem:
        if not force:
            raise MigrateError(f"{problem} (or finalize anyway with --force)") from None
        click.echo(f"warning: no evidence ({problem}); finalizing because of --force", err=True)
        return
    if result.ready:
        return
    if not force:
        click.echo(render_status(result), err=True, nl=False)
        raise MigrateError(
            f"refusing, status is not ready: run `migrate finalize {path}` again after "
            f"{_when(result)}, or pass --force",
            Exit.NOT_READY,
        )
    clients = ", ".join(c["client_id"] or "(unknown)" for c in result.evidence.opaque_clients)
    click.echo(
        "warning: finalizing before status is ready: opaque tokens still alive will be "
        f"refused with 401 ({result.reason})"
        + (f"; clients seen with them: {clients}" if clients else ""),
        err=True,
    )


def _when(result: Status) -> str:
    from migrate.status import _stamp

    return _stamp(result.earliest) if result.earliest is not None else "the server has run"
