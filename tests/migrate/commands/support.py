"""What the command tests share: the CLI in process, and the sample taken to hybrid."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from migrate.cli import cli
from migrate.status import ENV_NOW
from tests.migrate.tree_support import copy_sample


def run(*args: str, at: float | None = None) -> Result:
    """``migrate <args>`` in process; ``at`` moves the clock status reads (ENV_NOW)."""
    env = {ENV_NOW: None if at is None else repr(at)}
    return CliRunner().invoke(cli, list(args), env=env)


def applied_sample(tmp_path: Path) -> Path:
    """A copy of the sample after `migrate apply --yes` (the hybrid phase)."""
    project = copy_sample(tmp_path / "project")
    result = run("apply", str(project), "--yes", "--allow-dirty")
    assert result.exit_code == 0, result.output
    return project
