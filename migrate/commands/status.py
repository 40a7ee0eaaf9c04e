"""`migrate status [PATH]`: whether finalize is safe yet, with the evidence.

Exit 0 ready (or already final), 7 not ready yet.
"""

from __future__ import annotations

from pathlib import Path

import click

from migrate.commands._options import format_option, path_argument, prometheus_option
from migrate.commands._output import echo_json, next_step
from migrate.exit_codes import Exit

FINAL = "finalize is done: JWT only, nothing to wait for"


@click.command("status")
@path_argument()
@prometheus_option
@format_option("the verdict and its evidence")
def status_command(path: Path, prometheus: str | None, fmt: str) -> None:
    """Read the hybrid-period metrics and say whether finalize is safe.

    Exit 0 when ready (or already final), 7 when not ready yet, 1 on error.
    """
    from migrate.readiness import hybrid_status
    from migrate.status import render_status

    result = hybrid_status(path, prometheus)
    if result is None:
        if fmt == "json":
            echo_json("status", Exit.OK, {"phase": "final", "ready": True, "reason": FINAL})
        else:
            click.echo(f"phase: final; {FINAL}")
        return
    code = Exit.OK if result.ready else Exit.NOT_READY
    if fmt == "json":
        echo_json("status", code, result.document())
    else:
        click.echo(render_status(result), nl=False)
        if result.ready:
            next_step(f"migrate finalize {path}")
    raise SystemExit(int(code))
