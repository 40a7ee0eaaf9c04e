"""Revoked JWT ids shared by every replica through Redis, for a fleet on several hosts.

Chosen by ``OAUTH_MIGRATE_REDIS_URL`` (the embedded SQLite list stays the one-host default;
see :mod:`.denylist`). Needs the ``redis`` client library, imported only when chosen.

In Redis, each revoked ``jti`` is a key ``<prefix>jti:<jti>`` holding its ``exp`` that
expires with the token (``PXAT`` = exp + leeway), and a stream ``<prefix>log`` records
each revocation, trimmed to ``RETAIN_SECONDS``. Every process keeps the live entries in
memory; a background thread reads the stream every ``POLL_SECONDS``, so the request path
never waits on the network: membership is a dict lookup.

The bound (``BOUND_SECONDS``): a revocation that ``add`` wrote to Redis is refused by every
replica from ``BOUND_SECONDS`` later on. A replica answers "not revoked" only while its last
successful read *began* less than ``BOUND_SECONDS`` ago; a read that began after the write
saw it.

The outage policy, fail closed: when Redis cannot be read for longer than the bound, every
JWT not known to be live is refused as revoked (the 401 every migrated path already gives
for a revoked token, never a 500), counted in ``outage_refusals`` and logged once when the
outage starts and once when it ends. A revocation made during the outage holds at once on
this replica and is written to Redis when it is back; so is every live entry Redis lost
(a restart without persistence), because each replica writes back what it holds.
"""

from __future__ import annotations

import importlib
import logging
import math
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

from .denylist import Denylist
from .settings import ENV_REDIS_URL, Settings

log = logging.getLogger("oauth_migration.denylist")

ENV_REDIS_PREFIX = "OAUTH_MIGRATE_REDIS_PREFIX"
DEFAULT_PREFIX = "oauth-migrate:denylist:"
POLL_SECONDS = 0.25
BOUND_SECONDS = 1.0
# Redis operations give up quickly: a blackholed host must not hold a revocation long.
TIMEOUT_SECONDS = 0.5
RETAIN_SECONDS = 600.0  # the stream keeps this much; a reader further behind reloads all
_BATCH = 1000


class RedisUnavailable(RuntimeError):
    """The ``redis`` client library is not installed although a Redis URL is set."""


def _client(url: str) -> Any:
    try:
        redis = importlib.import_module("redis")
    except ImportError:
        raise RedisUnavailable(
            f"{ENV_REDIS_URL} is set but the redis client library is not installed "
            "(pip install 'redis>=5')"
        ) from None
    try:
        return redis.Redis.from_url(
            url,
            socket_timeout=TIMEOUT_SECONDS,
            socket_connect_timeout=TIMEOUT_SECONDS,
            decode_responses=True,
        )
    except ValueError:  # urllib's and redis-py's messages quote parts of the URL
        raise ValueError(f"{ENV_REDIS_URL} is not a URL redis-py can read") from None


def denylist_for(settings: Settings, clock: Callable[[], float] = time.time) -> Denylist:
    """The shared Redis list when ``settings.redis_url`` is set, else the embedded one."""
    if settings.redis_url:
        prefix = settings.environ.get(ENV_REDIS_PREFIX) or DEFAULT_PREFIX
        return RedisDenylist(settings.redis_url, prefix=prefix, clock=clock)
    return Denylist(clock=clock, path=settings.denylist_path)


class RedisDenylist(Denylist):
    """The in-memory set of :class:`Denylist`, kept in step with every replica via Redis."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        clock: Callable[[], float] = time.time,
        poll_seconds: float = POLL_SECONDS,
        bound_seconds: float = BOUND_SECONDS,
    ) -> None:
        super().__init__(clock=clock)
        self._redis = _client(url)
        self._redact = _redacted(url)
        self._entry, self._stream = prefix + "jti:", prefix + "log"
        self._poll, self._bound = poll_seconds, bound_seconds
        self._sync_lock = threading.Lock()  # one reader at a time: the marks below
        self._last_id: str | None = None  # None: read every entry again
        self._synced_at = -math.inf  # monotonic start of the last successful read
        self._pending: dict[str, float] = {}  # revoked here, not yet written to Redis
        self.available = False
        self.outage_refusals = 0
        self._down_since: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._thread_pid = 0
        _reset_in_forked_child(self)
        # One read now, so a healthy start answers at once; a failed one is the outage.
        self.sync()
        self._ensure_poller()

    # -- what the gate calls -----------------------------------------------------------

    def __contains__(self, jti: object) -> bool:
        self._ensure_poller()
        with self._lock:
            if jti in self._until:
                return True
            closed = self.failing_closed
            if closed:
                self.outage_refusals += 1
        return closed

    @property
    def failing_closed(self) -> bool:
        """True while no read began within the bound: every unknown jti counts as revoked."""
        return time.monotonic() - self._synced_at >= self._bound

    def add(self, jti: str, exp: float) -> None:
        """Hold the revocation here at once and write it to Redis; a failed write is kept
        and retried by the poller (logged: until then other replicas do not see it)."""
        self._ensure_poller()
        with self._lock:
            self._hold([(jti, exp)])
            self._pending[jti] = self._until[jti]
        if self.available:
            self._flush_pending()
        if jti in self._pending_snapshot():
            log.error("revocation of jti %s not yet in Redis %s: retried", jti, self._redact)

    def close(self) -> None:
        """Stop the poller (tests; a server process simply exits)."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=2 * TIMEOUT_SECONDS + self._poll)
        self._redis.close()

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    # -- reading -----------------------------------------------------------------------

    def sync(self) -> bool:
        """One read of what changed (all of it after an outage); True when it succeeded."""
        with self._sync_lock:
            began = time.monotonic()
            # A reader further behind than half the stream's span may have missed trimmed
            # lines (a process paused for minutes): it reads every entry again.
            behind = began - self._synced_at > RETAIN_SECONDS / 2
            try:
                self._flush_pending()
                if self._last_id is None or behind:
                    self._reload()
                else:
                    self._read_stream()
            except Exception as exc:  # redis.RedisError, OSError: the client raises both
                self._went_down(exc)
                return False
            self._synced_at = began
            self._came_back()
            with self._lock:
                self._purge_due()  # expired entries out of memory, once per PURGE_SECONDS
            return True

    def _reload(self) -> None:
        """Every live entry: the stream mark first, so nothing written meanwhile is missed;
        then what this replica holds and Redis lacks is written back."""
        newest = self._redis.xrevrange(self._stream, count=1)
        mark = newest[0][0] if newest else "0-0"
        remote = dict(self._scan())
        now = self._clock()
        with self._lock:
            self._hold((j, e) for j, e in remote.items() if e > now)
            lost = {j: e for j, e in self._until.items() if j not in remote and e > now}
        if lost:
            self._write(lost)
        self._last_id = mark

    def _scan(self) -> Iterator[tuple[str, float]]:
        names: list[str] = []
        for name in self._redis.scan_iter(match=self._entry + "*", count=_BATCH):
            names.append(name)
            if len(names) >= _BATCH:
                yield from self._values(names)
                names = []
        yield from self._values(names)

    def _values(self, names: list[str]) -> Iterator[tuple[str, float]]:
        if not names:
            return
        for name, value in zip(names, self._redis.mget(names), strict=True):
            if value is not None:
                yield name[len(self._entry) :], float(value)

    def _read_stream(self) -> None:
        assert self._last_id is not None
        while True:
            answer = self._redis.xread({self._stream: self._last_id}, count=_BATCH)
            entries = answer[0][1] if answer else []
            now = self._clock()
            with self._lock:
                for _, fields in entries:
                    exp = float(fields["exp"])
                    if exp > now:
                        self._hold([(fields["jti"], exp)])
            if entries:
                self._last_id = entries[-1][0]
            if len(entries) < _BATCH:
                return

    # -- writing -----------------------------------------------------------------------

    def _pending_snapshot(self) -> dict[str, float]:
        with self._lock:
            return dict(self._pending)

    def _flush_pending(self) -> None:
        pending = self._pending_snapshot()
        if not pending:
            return
        try:
            self._write(pending)
        except Exception as exc:
            self._went_down(exc)
            return
        with self._lock:
            for jti in pending:
                if self._pending.get(jti) == pending[jti]:
                    del self._pending[jti]

    def _write(self, entries: dict[str, float]) -> None:
        """One transaction: each entry's key, expiring with the token, and its stream line."""
        now = self._clock()
        trim = f"{int((now - RETAIN_SECONDS) * 1000)}-0"
        pipe = self._redis.pipeline(transaction=True)
        for jti, exp in entries.items():
            if exp <= now:
                continue  # the token is dead already: nothing to keep
            pipe.set(self._entry + jti, repr(exp), pxat=math.ceil(exp * 1000))
            pipe.xadd(self._stream, {"jti": jti, "exp": repr(exp)}, minid=trim, approximate=True)
        pipe.execute()

    # -- the poller and the outage -----------------------------------------------------

    def _ensure_poller(self) -> None:
        # Started on first use in each process: a thread does not survive a fork.
        if self._thread is not None and self._thread_pid == _pid():
            return
        with self._sync_lock:
            if self._thread is not None and self._thread_pid == _pid():
                return
            self._thread_pid = _pid()
            self._thread = threading.Thread(
                target=self._run, name="oauth-migrate-denylist", daemon=True
            )
            self._thread.start()

    def _after_fork_in_child(self) -> None:
        """A worker forked while the poller held a lock (mid-read) would wait on it for
        ever: the thread holding it is not in the child. Fresh locks, and the poller is
        started again on first use (``_ensure_poller``)."""
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self._poll):
            self.sync()

    def _went_down(self, exc: Exception) -> None:
        self._last_id = None  # Redis may come back empty: read and write back everything
        if self.available or self._down_since is None:
            self._down_since = time.monotonic()
            log.warning(
                "Redis denylist %s unavailable (%s): JWTs are refused as revoked from %.1f s "
                "after the last successful read until it is back",
                self._redact,
                type(exc).__name__,
                self._bound,
            )
        self.available = False

    def _came_back(self) -> None:
        if self.available:
            return
        if self._down_since is not None:
            log.warning(
                "Redis denylist %s available again after %.1f s; %d checks were refused",
                self._redact,
                time.monotonic() - self._down_since,
                self.outage_refusals,
            )
        self.available, self._down_since = True, None

    # -- metrics -----------------------------------------------------------------------

    def metric_families(self, core: Any) -> Iterator[Any]:
        """The Prometheus families of this list (``core`` is ``prometheus_client.core``)."""
        yield core.GaugeMetricFamily(
            "oauth_migrate_denylist_available",
            "1 while the shared Redis denylist was read within the revocation bound, else 0.",
            value=0.0 if self.failing_closed else 1.0,
        )
        yield core.CounterMetricFamily(
            "oauth_migrate_denylist_outage_refusals",
            "JWT checks refused because the shared denylist could not be read in time.",
            value=self.outage_refusals,
        )
        yield core.GaugeMetricFamily(
            "oauth_migrate_denylist_pending_revocations",
            "Revocations held by this process and not yet written to Redis.",
            value=self.pending,
        )


def _reset_in_forked_child(denylist: RedisDenylist) -> None:
    """Run ``_after_fork_in_child`` in every child forked from here (gunicorn --preload),
    without keeping the list alive (a weak reference, as metrics.py does)."""
    if not hasattr(os, "register_at_fork"):
        return
    after_fork = weakref.WeakMethod(denylist._after_fork_in_child)

    def hook() -> None:
        method = after_fork()
        if method is not None:
            method()

    os.register_at_fork(after_in_child=hook)


def _pid() -> int:
    return os.getpid()


def _redacted(url: str) -> str:
    """The URL without its password, for log lines: read as redis-py reads it
    (``urlparse``), which also takes options, the password among them, from the query
    string; that is left out whole."""
    parts = urlsplit(url)
    if not parts.scheme:
        return "***"
    host = parts.netloc.rpartition("@")[2]
    try:
        parts.port  # noqa: B018 - raises for a "port" that is text (a password cut short)
    except ValueError:
        host = "***"
    user = "***@" if "@" in parts.netloc else ""
    if user and parts.username:
        user = f"{parts.username}:***@"
    query = "?***" if parts.query else ""
    return f"{parts.scheme}://{user}{host}{parts.path}{query}"
