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


@pytest.mark.parametrize(
    ("code", "seconds"),
    [
        ("ACCESS_TOKEN_TTL = 2 * 60 * 60 + 30\n", 7230),
        ("ACCESS_TOKEN_TTL = (1 + 2) * 600\n", 1800),
        ("ACCESS_TOKEN_TTL = 7200 // 2 - 600\n", 3000),
        ("ACCESS_TOKEN_TTL = 7200 / 4\n", 1800),
        ("ACCESS_TOKEN_TTL = 3700 % 3600 + 3500\n", 3600),
        ("ACCESS_TOKEN_TTL = -(-900)\n", 900),
        ("ACCESS_TOKEN_TTL = 2**10\n", 1024),
        ("ACCESS_TOKEN_TTL = 1_800\n", 1800),
        ("HOUR = 60 * 60\nACCESS_TOKEN_TTL = 2 * HOUR\n", 7200),
        ("MINUTE = 60\nHOUR = 60 * MINUTE\nACCESS_TOKEN_TTL = HOUR\n", 3600),
        ("from datetime import timedelta\nH = 2\nACCESS_LIFETIME = timedelta(hours=H)\n", 7200),
    ],
)
def test_lifetime_folds_constant_arithmetic(tmp_path: Path, code: str, seconds: int) -> None:
    """Numbers, + - * // / %, small powers, unary minus, parentheses and folded module
    constants give the lifetime without eval."""
    assert lifetime_of(tmp_path, code) == seconds


@pytest.mark.parametrize(
    "code",
    [
        "ACCESS_TOKEN_TTL = 10**10**10\n",
        "ACCESS_TOKEN_TTL = 9**999999\n",
        "ACCESS_TOKEN_TTL = 10**100\n",
        "ACCESS_TOKEN_TTL = " + " * ".join(["99999"] * 50) + "\n",
        "ACCESS_TOKEN_TTL = 1e400\n",
        "ACCESS_TOKEN_TTL = 3600 // 0\n",
        "ACCESS_TOKEN_TTL = " + "9" * 5000 + "\n",
        "ACCESS_TOKEN_TTL = __import__('os').getpid()\n",
        "ACCESS_TOKEN_TTL = UNKNOWN * 60\n",
        "ACCESS_TOKEN_TTL = 3600 if DEBUG else 60\n",
        "ACCESS_TOKEN_TTL = 0x10 << 8\n",
        "ACCESS_TOKEN_TTL = -3600\n",
    ],
)
def test_lifetime_refuses_what_it_cannot_fold_safely(tmp_path: Path, code: str) -> None:
    """Huge powers and results, division by zero, calls, unknown names and other
    operators are refused (no lifetime found), quickly and without eval."""
    assert lifetime_of(tmp_path, code) is None


def test_lifetime_module_has_no_eval() -> None:
    """The lifetime finder evaluates nothing: no eval or exec in its source."""
    from migrate.scan import lifetime

    source = Path(lifetime.__file__).read_text(encoding="utf-8")
    assert "eval(" not in source and "exec(" not in source
