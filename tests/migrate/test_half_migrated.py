"""apply never leaves a kind of site half-migrated (#8): one mint or gate it cannot rewrite
beside others it rewrites blocks the whole apply (exit 6), and nothing is written."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from migrate.cli import cli
from tests.migrate.lifecycle_support import snapshot, snapshot_difference
from tests.migrate.tree_support import copy_sample

SERVICE_MINT = '''"""Tokens for the nightly export job."""

import secrets

EXPORT_TOKENS = {}


def export_access_token():
    access_token = secrets.token_urlsafe(32)
    EXPORT_TOKENS[access_token] = "export"
    return access_token
'''

ADMIN_GATE = '''"""A second bearer check, for the admin routes."""

ADMIN_TOKENS = set()


def admin_allowed(request):
    auth = request.headers.get("authorization", "")
    if not auth.lower().startswith("bearer "):
        return False
    token = auth[7:]
    return token in ADMIN_TOKENS
'''


def _apply_refused(root: Path, module: str, text: str, where: str) -> None:
    (root / "sample_legacy" / module).write_text(text, encoding="utf-8")
    before = snapshot(root)
    result = CliRunner().invoke(cli, ["apply", str(root), "--yes", "--allow-dirty"])
    assert result.exit_code == 6, result.output
    assert f"sample_legacy/{module}:{where}" in result.stderr
    assert snapshot_difference(before, snapshot(root)) == []
    assert not (root / ".oauth-migration").exists()


def test_issue_8_a_mint_left_opaque_beside_jwt_mints_blocks_apply(tmp_path: Path) -> None:
    """#8: an opaque mint apply cannot rewrite, beside one it rewrites, blocks apply; no write."""
    _apply_refused(copy_sample(tmp_path / "project"), "service.py", SERVICE_MINT, "9")


def test_issue_8_a_legacy_gate_beside_hybrid_gates_blocks_apply(tmp_path: Path) -> None:
    """#8: a bearer gate apply cannot rewrite, beside one it rewrites, blocks apply; no write."""
    _apply_refused(copy_sample(tmp_path / "project"), "admin.py", ADMIN_GATE, "11")
