"""The `migrate` command line: a click group whose commands each call one function."""

from __future__ import annotations

from typing import NoReturn

import click

from migrate import __version__
from migrate.keys_cli import keys_group
from migrate.phase_cli import apply_command, plan_command, rollback_command

# Exit status of a command that exists in the interface but is not built yet.
EXIT_NOT_AVAILABLE = 2
# Unbuilt commands take any arguments, so callers learn "not available", not "bad usage".
_ANY_ARGS = {"ignore_unknown_options": True, "allow_extra_args": True}


def _not_available(name: str) -> NoReturn:
    click.echo(f"migrate {name}: not available yet in oauth-migrate {__version__}.", err=True)
    raise SystemExit(EXIT_NOT_AVAILABLE)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="oauth-migrate")
def cli() -> None:
    """Move a legacy MCP server from opaque OAuth access tokens to RS256 JWTs."""


cli.add_command(plan_command)
cli.add_command(apply_command)
cli.add_command(rollback_command)


@cli.command(context_settings=_ANY_ARGS)
def status() -> None:
    """Read the hybrid-period metrics and say whether finalize is safe."""
    _not_available("status")


@cli.command(context_settings=_ANY_ARGS)
def finalize() -> None:
    """Remove the opaque-token path: JWT only."""
    _not_available("finalize")


@cli.command(context_settings=_ANY_ARGS)
def verify() -> None:
    """Check a running server from outside, as a demanding client would."""
    _not_available("verify")


cli.add_command(keys_group)


def main() -> None:
    cli()
