"""`migrate status` and `migrate finalize`: the end of the hybrid period."""

from __future__ import annotations

from pathlib import Path

import click

from migrate.apply import ApplyRefused, apply_plan, check_plan
from migrate.finalizer import plan_final
from migrate.planner import PlanError
from migrate.render import manual_steps_left, render_text
from migrate.state import StateError
from migrate.status import Status, StatusError, render_status, status

EXIT_NOT_READY = 3

path_argument = click.argument(
    "path", required=False, default=".", type=click.Path(file_okay=False, path_type=Path)
)
prometheus_option = click.option(
    "--prometheus", metavar="URL", help="Read the metrics from this Prometheus server."
)


def _status(path: Path, prometheus: str | None) -> Status:
    try:
        return status(path, prometheus=prometheus)
    except (StatusError, StateError) as problem:
        raise click.ClickException(str(problem)) from None


@click.command("status")
@path_argument
@prometheus_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def status_command(path: Path, prometheus: str | None, fmt: str) -> None:
    """Read the hybrid-period metrics and say whether finalize is safe.

    Exit 0 when ready, 3 when not, 1 on error.
    """
    result = _status(path, prometheus)
    click.echo(result.to_json() if fmt == "json" else render_status(result), nl=False)
    raise SystemExit(0 if result.ready else EXIT_NOT_READY)


@click.command("finalize")
@path_argument
@prometheus_option
@click.option("--force", is_flag=True, help="Finalize although status is not ready.")
@click.option("--plan-only", is_flag=True, help="Show the diff; change nothing.")
@click.option("--allow-dirty", is_flag=True, help="Apply over uncommitted changes.")
def finalize_command(
    path: Path, prometheus: str | None, force: bool, plan_only: bool, allow_dirty: bool
) -> None:
    """Remove the opaque-token path: JWT only (JWKS, introspection, discovery stay).

    Refuses (exit 3) until `status` says ready, unless --force.
    """
    try:
        plan = plan_final(path)
    except (PlanError, StateError) as problem:
        raise click.ClickException(str(problem)) from None
    if plan_only:
        click.echo(render_text(plan), nl=False)
        raise SystemExit(2 if plan.pending else 0)
    if not plan.pending:
        click.echo("nothing to finalize: the tree is already in the final phase")
        return
    _check_ready(path, prometheus, force)
    try:
        check_plan(plan, path, allow_dirty)
    except ApplyRefused as refused:
        click.echo(f"migrate finalize: {refused}", err=True)
        raise SystemExit(refused.exit_code) from None
    result = apply_plan(plan, path)
    click.echo(f"wrote {len(result.written)} files; phase is now final")
    for line in manual_steps_left(plan):
        click.echo(line)


def _check_ready(path: Path, prometheus: str | None, force: bool) -> None:
    try:
        result = status(path, prometheus=prometheus)
    except (StatusError, StateError) as problem:
        if not force:
            raise click.ClickException(f"{problem} (use --force to finalize anyway)") from None
        click.echo(f"warning: no evidence ({problem}); finalizing because of --force", err=True)
        return
    if result.ready:
        return
    if not force:
        click.echo(render_status(result), err=True, nl=False)
        click.echo("migrate finalize: refusing, status is not ready", err=True)
        raise SystemExit(EXIT_NOT_READY)
    clients = ", ".join(c["client_id"] or "(unknown)" for c in result.evidence.opaque_clients)
    click.echo(
        "warning: finalizing before status is ready: opaque tokens still alive will be "
        f"refused with 401 ({result.reason})"
        + (f"; clients seen with them: {clients}" if clients else ""),
        err=True,
    )
