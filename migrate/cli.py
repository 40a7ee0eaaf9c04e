"""The `migrate` command line: a click group whose commands each call one function."""

from __future__ import annotations

import click

from migrate import __version__
from migrate.final_cli import finalize_command, status_command
from migrate.keys_cli import keys_group
from migrate.phase_cli import apply_command, plan_command, rollback_command
from migrate.verify import verify_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="oauth-migrate")
def cli() -> None:
    """Move a legacy MCP server from opaque OAuth access tokens to RS256 JWTs."""


cli.add_command(plan_command)
cli.add_command(apply_command)
cli.add_command(rollback_command)
cli.add_command(status_command)
cli.add_command(finalize_command)
cli.add_command(verify_command)
cli.add_command(keys_group)


def main() -> None:
    cli()
