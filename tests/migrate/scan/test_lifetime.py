"""The legacy access-token lifetime: the JWTs' lifetime and status's waiting time."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrate.scan.lifetime import access_lifetime
from migrate.scan.source import SourceTree


def lifetime_of(tmp_path: Path, code: str) -> int | None:
    (tmp_path / "config.py").write_text(code, encoding="utf-8")
    found = access_lifetime(SourceTree(tmp_path))
    return found[0] if found else None


@pytest.mark.parametrize(
    ("code", "seconds"),
    [
        ("ACCESS_TOKEN_TTL = 3600\n", 3600),
        ("ACCESS_TOKEN_TTL = 24 * 60 * 60\n", 86400),
        ("from datetime import timedelta\nACCESS_LIFETIME = timedelta(hours=2)\n", 7200),
        ("ACCESS_TOKEN_TTL, REFRESH_TOKEN_TTL = 900, 86400\n", 900),
        ("class S:\n    def __init__(self):\n        self.access_token_ttl = 1800\n", 1800),
        ("app.config.update(ACCESS_TOKEN_TTL=600)\n", 600),
        ('def token():\n    return {"access_token": t, "expires_in": 1200}\n', 1200),
    ],
)
def test_lifetime_is_read_from_constants(tmp_path: Path, code: str, seconds: int) -> None:
    """Assignments, keywords, tuples, timedeltas and expires_in constants give the lifetime."""
    assert lifetime_of(tmp_path, code) == seconds


def test_refresh_lifetime_is_not_taken(tmp_path: Path) -> None:
    """A refresh-token lifetime alone is not the access-token lifetime."""
    assert lifetime_of(tmp_path, "REFRESH_TOKEN_TTL = 86400\n") is None


def test_computed_lifetime_is_not_guessed(tmp_path: Path) -> None:
    """A lifetime read from the environment is not a constant: nothing is found."""
    code = 'import os\nACCESS_TOKEN_TTL = int(os.environ["TTL"])\n'
    assert lifetime_of(tmp_path, code) is None
