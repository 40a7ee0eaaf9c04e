"""The Redis URL in the denylist's log lines never carries a password: redis-py also
takes it from the query string (``redis://host/0?password=...``), not only from the
user-info part (shims/redis_denylist.py ``_redacted``)."""

from __future__ import annotations

import logging
import socket

import pytest

from shims.redis_denylist import RedisDenylist


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # closed again: nothing listens on it


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:{port}/0?password=s3cret-pass",
        "redis://user@127.0.0.1:{port}/0?socket_keepalive=1&password=s3cret-pass",
        "redis://:s3cret-pass@127.0.0.1:{port}/0",
    ],
    ids=["query-password", "query-password-after-other", "user-info"],
)
def test_no_password_of_the_url_is_logged(url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="oauth_migration.denylist")
    denylist = RedisDenylist(url.format(port=_free_port()))
    try:
        assert "anything" in denylist, "no read ever succeeded: fail closed"
    finally:
        denylist.close()
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "unavailable" in text and "s3cret" not in text, text


def test_an_unreadable_url_is_refused_without_quoting_it() -> None:
    """An unescaped ``?`` in the password makes urllib read part of it as the port; the
    error it raises quotes that part: the refusal names the setting only."""
    with pytest.raises(ValueError, match="OAUTH_MIGRATE_REDIS_URL") as raised:
        RedisDenylist(f"redis://user:s3cret?pass@127.0.0.1:{_free_port()}/0")
    assert "s3cret" not in str(raised.value) and raised.value.__cause__ is None
