"""`migrate finalize [PATH]`: hybrid -> final, JWT only (JWKS, introspection and
discovery stay).

Refuses (exit 7) until `status` says ready, unless ``--force``; asks before it writes,
unless ``--yes``. ``--plan-only`` shows the diff and exits 2 when changes are pending.
"""

from __future__ import annotations

from pathlib import Path

import click

from migrate.commands._options import (
    allow_dirty_option,
    confirm,
    exclude_option,
    format_option,
    path_argument,
    prometheus_option,
    yes_option,
)
from migrate.commands._output import colour_on, echo_json, echo_lines, next_step
from migrate.exit_codes import Exit

NOTHING = "nothing to finalize: the tree is already in the final phase"


@click.command("finalize")
@path_argument()
@prometheus_option
@click.option("--force", is_flag=True, help="Finalize although status is not ready.")
@click.option("--plan-only", is_flag=True, help="Show the diff; change nothing.")
@allow_dirty_option
@yes_option
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
    from migrate.outcome import finalized_lines
    from migrate.render import render_text
    from migrate.transitions import final_plan, finalize_tree

    plan = final_plan(path, exclude)
    if plan_only:
        click.echo(render_text(plan, colour=colour_on()), nl=False)
        raise SystemExit(int(Exit.PENDING if plan.pending else Exit.OK))

    def ask() -> None:
        confirm("Finalize? Opaque tokens will be refused from the next deploy on", yes, "finalize")

    def warn(warning: str) -> None:
        click.echo(warning, err=True)

    result = finalize_tree(
        plan, path, prometheus=prometheus, force=force, allow_dirty=allow_dirty, ask=ask, warn=warn
    )
    written = result.written if result is not None else []
    lines = finalized_lines(plan, path, written) if result is not None else [NOTHING]
    if fmt == "json":
        body = {"root": str(path.resolve()), "phase": "final", "written": written}
        echo_json("finalize", Exit.OK, {**body, "messages": lines})
        return
    echo_lines(lines)
    if written:
        next_step("deploy and restart the server, then `migrate verify URL`")
