"""Rules that keep the kit from writing a server that cannot run or cannot revoke."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from migrate.cli import cli
from migrate.scan.deletes import find_deletes
from migrate.scan.minting import find_mints
from migrate.scan.source import SourceTree

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "servers"

HELPER_MINT = """
import base64
import os


def new_access_token():
    return base64.b32encode(os.urandom(20)).decode("ascii")


def new_refresh_token():
    return base64.b32encode(os.urandom(30)).decode("ascii")


def issue(user_id, client_id, scope, store):
    access_token = new_access_token()
    refresh_token = new_refresh_token()
    store[access_token] = {"user_id": user_id, "client_id": client_id, "scope": scope}
    return {"access_token": access_token, "refresh_token": refresh_token}
"""

HASHED_DELETE = """
import hashlib

TOKENS = {}


def token_key(token):
    return hashlib.sha256(token.encode()).hexdigest()


def drop_token(token):
    k = token_key(token)
    del TOKENS[k]
"""


def test_a_helper_returning_a_random_access_token_is_a_mint(tmp_path: Path) -> None:
    """`access_token = new_access_token()` is the mint, with the caller's names as claims."""
    (tmp_path / "tokens.py").write_text(HELPER_MINT, encoding="utf-8")
    sites, manual = find_mints(SourceTree(tmp_path))
    assert [s.source.code(s.expression) for s in sites] == ["new_access_token()"]
    assert set(sites[0].claims) >= {"subject", "client_id", "scope"}
    assert manual == []


def test_a_delete_under_a_derived_key_revokes_the_token(tmp_path: Path) -> None:
    """Deleting under a hash of the token revokes the token, not the hash."""
    (tmp_path / "store.py").write_text(HASHED_DELETE, encoding="utf-8")
    deletes = find_deletes(SourceTree(tmp_path), None)
    assert [d.source.code(d.key) for d in deletes if d.key is not None] == ["token"]


def test_apply_is_blocked_when_the_runtime_cannot_be_installed(tmp_path: Path) -> None:
    """A tree whose app the kit cannot find is not half-migrated: apply exits 6, writes nothing."""
    project = tmp_path / "server"
    shutil.copytree(FIXTURES / "starlette_asgi", project)
    before = sorted(p.relative_to(project) for p in project.rglob("*"))
    result = CliRunner().invoke(cli, ["apply", str(project), "--yes", "--allow-dirty"])
    assert result.exit_code == 6, result.output
    assert "Starlette, FastAPI or Flask app" in result.output
    assert sorted(p.relative_to(project) for p in project.rglob("*")) == before
