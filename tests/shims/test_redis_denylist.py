"""The Redis-shared jti denylist against a real ``redis-server`` on a free 127.0.0.1 port.

Each test gets its own redis-server (own config and folder, no persistence) and two or
three :class:`RedisDenylist` objects standing for replicas on different hosts: nothing is
shared between them but the Redis URL.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from shims import redis_denylist as module
from shims.denylist import Denylist
from shims.redis_denylist import BOUND_SECONDS, DEFAULT_PREFIX, RedisDenylist, denylist_for
from shims.settings import Settings
from tests.support.redis_server import SKIP_REASON, RedisServer, redis_binary

pytestmark = pytest.mark.skipif(redis_binary() is None, reason=SKIP_REASON)

LIFETIME = 3600.0


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path / "redis") as running:
        yield running


@pytest.fixture
def replicas(server: RedisServer) -> Iterator[Callable[[], RedisDenylist]]:
    made: list[RedisDenylist] = []

    def make() -> RedisDenylist:
        denylist = RedisDenylist(server.url)
        made.append(denylist)
        return denylist

    yield make
    for denylist in made:
        denylist.close()


def _wait_until(check: Callable[[], bool], timeout: float) -> float:
    """Seconds until ``check()`` held; fails after ``timeout``."""
    began = time.monotonic()
    while not check():
        assert time.monotonic() - began < timeout, f"not within {timeout} s"
        time.sleep(0.01)
    return time.monotonic() - began


def test_a_revocation_on_one_replica_is_refused_on_the_others_within_the_bound(
    replicas: Callable[[], RedisDenylist],
) -> None:
    a, b, c = replicas(), replicas(), replicas()
    assert "j-1" not in b and "j-1" not in c  # starts the pollers; not revoked yet
    a.add("j-1", time.time() + LIFETIME)
    assert "j-1" in a
    waits = [_wait_until(lambda d=d: "j-1" in d, timeout=BOUND_SECONDS) for d in (b, c)]
    assert max(waits) < BOUND_SECONDS, waits
    assert "j-2" not in b, "an id nobody revoked is refused"


def test_entries_expire_with_the_token_in_redis(
    server: RedisServer, replicas: Callable[[], RedisDenylist]
) -> None:
    a = replicas()
    exp = time.time() + 120
    a.add("short", exp)
    a.add("dead", time.time() - 1)  # already expired: nothing to keep
    client = redis.Redis.from_url(server.url)
    ttl = client.ttl(DEFAULT_PREFIX + "jti:short")
    assert 115 <= ttl <= 121, ttl
    assert not client.exists(DEFAULT_PREFIX + "jti:dead")
    client.close()


def test_a_replica_started_later_loads_every_live_revocation(
    replicas: Callable[[], RedisDenylist],
) -> None:
    a = replicas()
    for n in range(25):
        a.add(f"early-{n}", time.time() + LIFETIME)
    late = replicas()
    assert all(f"early-{n}" in late for n in range(25))
    assert len(late) == 25


def test_an_outage_refuses_unknown_jtis_after_the_bound_and_is_logged_once(
    server: RedisServer,
    replicas: Callable[[], RedisDenylist],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="oauth_migration.denylist")
    b = replicas()
    assert "live" not in b
    server.kill()
    # Within the bound of the last good read it still answers; past it, fail closed.
    refused_after = _wait_until(lambda: "live" in b, timeout=BOUND_SECONDS + 1.0)
    assert refused_after <= BOUND_SECONDS + 0.2, refused_after
    assert b.outage_refusals >= 1
    for _ in range(50):
        assert "live" in b
    down = [r for r in caplog.records if "unavailable" in r.getMessage()]
    assert len(down) == 1, [r.getMessage() for r in caplog.records]
    server.start()
    _wait_until(lambda: "live" not in b, timeout=3.0)
    back = [r for r in caplog.records if "available again" in r.getMessage()]
    assert len(back) == 1, [r.getMessage() for r in caplog.records]


def test_revocations_made_during_an_outage_reach_redis_when_it_is_back(
    server: RedisServer, replicas: Callable[[], RedisDenylist]
) -> None:
    a, b = replicas(), replicas()
    a.add("before", time.time() + LIFETIME)
    _wait_until(lambda: "before" in b, timeout=BOUND_SECONDS)
    server.kill()
    _wait_until(lambda: not a.available, timeout=3.0)
    a.add("during", time.time() + LIFETIME)
    assert "during" in a, "the revocation holds on its replica at once"
    assert a.pending == 1
    server.start()  # no persistence: Redis came back empty
    _wait_until(lambda: a.available and b.available and a.pending == 0, timeout=3.0)
    _wait_until(lambda: "during" in b, timeout=BOUND_SECONDS)
    late = replicas()
    assert "before" in late and "during" in late, "what Redis lost was written back"


def test_the_password_of_the_url_is_not_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="oauth_migration.denylist")
    port = RedisServer(tmp_path).port  # a free port nothing listens on
    denylist = RedisDenylist(f"redis://user:s3cret-pass@127.0.0.1:{port}/0")
    try:
        assert "anything" in denylist, "no read ever succeeded: fail closed"
    finally:
        denylist.close()
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "unavailable" in text and "s3cret-pass" not in text, text


def test_the_setting_chooses_the_list(server: RedisServer, tmp_path: Path) -> None:
    env = {"OAUTH_MIGRATE_REDIS_URL": server.url}
    base = Settings(issuer="https://as.example", resource="https://as.example/mcp")
    shared = denylist_for(Settings(**{**base.__dict__, "environ": env}).with_environment())
    assert isinstance(shared, RedisDenylist)
    shared.close()
    embedded = denylist_for(
        Settings(**{**base.__dict__, "denylist_path": str(tmp_path / "d.sqlite3"), "environ": {}})
    )
    assert type(embedded) is Denylist


def test_a_missing_client_library_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> object:
        raise ImportError(name)

    monkeypatch.setattr(module.importlib, "import_module", missing)
    with pytest.raises(module.RedisUnavailable, match="pip install"):
        RedisDenylist("redis://127.0.0.1:1/0")


def test_a_revocation_during_an_outage_is_kept_by_the_runtime(
    server: RedisServer, key_folder: Path
) -> None:
    """Failing closed, the gate takes every JWT for revoked; revoke() still records it."""
    from shims.runtime import OAuthMigration

    settings = Settings(
        issuer="https://as.example",
        resource="https://as.example/mcp",
        mode="final",
        key_folder=str(key_folder),
        environ={"OAUTH_MIGRATE_REDIS_URL": server.url},
    )
    runtime = OAuthMigration(settings)
    denylist = runtime.gate.denylist
    assert isinstance(denylist, RedisDenylist)
    try:
        token = runtime.mint_access_token("alice", "client-1")
        assert runtime.gate.resolve(token) is not None
        server.kill()
        _wait_until(lambda: denylist.failing_closed, timeout=BOUND_SECONDS + 1.0)
        assert runtime.gate.resolve(token) is None, "fail closed"
        assert runtime.revoke(token) is True
        assert denylist.pending == 1
        server.start()
        _wait_until(lambda: denylist.pending == 0 and not denylist.failing_closed, timeout=3.0)
        assert runtime.gate.resolve(token) is None, "still revoked once Redis is back"
        other = RedisDenylist(server.url)
        assert len(other) == 1
        other.close()
    finally:
        denylist.close()


def test_expired_entries_leave_memory_and_redis(
    server: RedisServer, replicas: Callable[[], RedisDenylist]
) -> None:
    a = replicas()
    a.add("brief", time.time() + 1.2)
    a.add("long", time.time() + LIFETIME)
    assert len(a) == 2
    time.sleep(1.5)
    a._next_purge = 0.0  # the purge runs once a minute: due now
    assert a.sync()
    assert len(a) == 1 and "brief" not in a and "long" in a
    client = redis.Redis.from_url(server.url)
    assert not client.exists(DEFAULT_PREFIX + "jti:brief"), "Redis expired it with the token"
    client.close()
