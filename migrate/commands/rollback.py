"""`migrate rollback [PATH]`: undo the last apply or finalize, byte for byte.

Asks before deleting the signing key the apply generated, unless ``--yes``. Exit 5 when
files were edited since (nothing is changed then), 1 when nothing is recorded.
"""

from __future__ import annotations

from pathlib import Path

import click

from migrate.commands._options import confirm, format_option, path_argument
from migrate.commands._output import echo_json, next_step
from migrate.exit_codes import Exit


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
    from migrate.outcome import rolled_back_line
    from migrate.rollback import rollback

    def ask() -> None:
        confirm("Delete the signing key this apply generated?", yes, "delete it")

    undone = rollback(path, ask_key_removal=ask)
    if fmt == "json":
        body = {"root": str(path.resolve()), "phase": undone.phase_from}
        echo_json("rollback", Exit.OK, {**body, "restored": sorted(undone.files)})
        return
    click.echo(rolled_back_line(path, undone))
    then_status = f", then `migrate status {path}`" if undone.phase_from == "hybrid" else ""
    next_step(f"redeploy and restart the server{then_status}")
