"""Newcomer case 6b at finalize: a gate file the scan cannot read stops `finalize`."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from migrate.cli import cli
from migrate.errors import PlanError
from migrate.finalizer import plan_final
from tests.migrate.tree_support import copy_sample


def test_case_6b_finalize_refuses_while_a_gate_file_is_unreadable(tmp_path: Path) -> None:
    """A hybrid tree whose bearer-gate file became undecodable is not finalized: the scan
    cannot tell whether that gate still looks opaque tokens up."""
    root = copy_sample(tmp_path / "project")
    applied = CliRunner().invoke(cli, ["apply", "--yes", str(root)])
    assert applied.exit_code == 0, applied.output
    auth = root / "sample_legacy" / "auth.py"
    auth.write_bytes("# Prüfung\n".encode("latin-1") + auth.read_bytes())
    with pytest.raises(PlanError, match="sample_legacy/auth.py"):
        plan_final(root)


def test_finalize_exclude_leaves_a_file_out_of_its_scan(tmp_path: Path) -> None:
    """`finalize --exclude` takes the same patterns as plan and apply: an undecodable copy
    that blocks finalize is left out, and finalize plans again."""
    root = copy_sample(tmp_path / "project")
    applied = CliRunner().invoke(cli, ["apply", "--yes", str(root)])
    assert applied.exit_code == 0, applied.output
    attic = root / "attic"
    attic.mkdir()
    text = (root / "sample_legacy" / "auth.py").read_bytes()
    (attic / "old_auth.py").write_bytes("# Prüfung\n".encode("latin-1") + text)
    blocked = CliRunner().invoke(cli, ["finalize", "--plan-only", str(root)])
    assert blocked.exit_code == 1, blocked.output
    assert "attic/old_auth.py" in blocked.output
    excluded = CliRunner().invoke(cli, ["finalize", "--plan-only", "--exclude", "attic", str(root)])
    assert excluded.exit_code == 2, excluded.output
