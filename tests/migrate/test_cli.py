"""The command line's surface: help and version."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from migrate import __version__
from migrate.cli import cli

COMMANDS = ("plan", "apply", "status", "finalize", "rollback", "keys", "verify")


@pytest.mark.parametrize("name", COMMANDS)
def test_help_lists_command(name: str) -> None:
    """`migrate --help` names every command the kit has."""
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert f"\n  {name} " in result.output


def test_version_prints_package_version() -> None:
    """`migrate --version` prints the installed version."""
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_python_dash_m_runs_the_cli() -> None:
    """`python -m migrate --help` runs the same CLI as the console script."""
    proc = subprocess.run(
        [sys.executable, "-m", "migrate", "--help"], capture_output=True, text=True, check=True
    )
    for name in COMMANDS:
        assert f"  {name} " in proc.stdout
