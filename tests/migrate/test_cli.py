"""The command line's surface: help, version, the exit-code table, usage errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from migrate import __version__
from migrate.cli import cli
from migrate.commands._options import STEP_IDS
from migrate.exit_codes import Exit, table
from migrate.steps import ids_of

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


EXIT_TABLE = [
    (0, "OK"),
    (1, "ERROR"),
    (2, "PENDING"),
    (3, "DIRTY"),
    (4, "STALE"),
    (5, "EDITED"),
    (6, "BLOCKED"),
    (7, "NOT_READY"),
    (8, "CHECKS_FAILED"),
    (64, "USAGE"),
    (130, "INTERRUPTED"),
]
README = Path(__file__).resolve().parents[2] / "README.md"


def test_exit_code_table_is_pinned() -> None:
    """The exit codes are exactly the documented ones: a script may branch on them."""
    assert [(int(code), code.name) for code in Exit] == EXIT_TABLE


def test_help_prints_the_exit_code_table() -> None:
    """`migrate --help` ends with every exit code and its meaning, and exits 0."""
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for line in table().splitlines():
        assert line in result.output


def test_readme_prints_the_exit_code_table() -> None:
    """README.md holds the same table, line for line."""
    readme = README.read_text(encoding="utf-8")
    assert table() in readme


def test_unknown_option_is_a_usage_error_64() -> None:
    """An unknown option exits 64 (EX_USAGE), not 2 (which is "changes pending")."""
    result = CliRunner().invoke(cli, ["plan", "--bogus"])
    assert result.exit_code == 64
    assert result.stderr.startswith("Error: No such option '--bogus'")
    assert "(see migrate plan --help)" in result.stderr


def test_unknown_command_is_a_usage_error_64() -> None:
    """An unknown command exits 64 too."""
    assert CliRunner().invoke(cli, ["plna"]).exit_code == 64


def test_bare_migrate_prints_help_and_exits_0() -> None:
    """`migrate` with no arguments shows the help, as `--help` does."""
    result = CliRunner().invoke(cli, [])
    assert result.exit_code == 0
    assert result.output.startswith("Usage: migrate")


@pytest.mark.parametrize("name", [*COMMANDS, "keys list"])
def test_every_subcommand_help_exits_0(name: str) -> None:
    """`migrate CMD --help` exits 0 (the group runs without click's standalone mode)."""
    result = CliRunner().invoke(cli, [*name.split(), "--help"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Usage: migrate ")


def test_help_does_not_import_the_engine() -> None:
    """`--help` of the group and of plan imports neither libcst nor httpx (it stays fast)."""
    code = (
        "import sys\n"
        "from migrate.cli import cli\n"
        "cli.main(['--help'], standalone_mode=False)\n"
        "cli.main(['plan', '--help'], standalone_mode=False)\n"
        "cli.main(['verify', '--help'], standalone_mode=False)\n"
        "print(sorted(m for m in ('libcst', 'httpx', 'migrate.planner') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_step_ids_in_help_are_the_planners() -> None:
    """The step ids `--only` lists in its help are exactly the planner's."""
    assert [s.strip() for s in STEP_IDS.split(",")] == list(ids_of("hybrid"))
