"""Count token validations and mints during the hybrid period, and keep them in a shared file.

Finalize is safe only when no opaque access token can still be in use (STANDARDS.md, "The
hybrid period and finalize"): no opaque token minted for a full lifetime since the last one,
and no opaque token accepted in the recent window. Only the server sees that, on every
request, so the gate reports each validation here and `migrate status` reads the result.

- `Metrics.validation()` sits on the request path: it bumps an in-memory counter under one
  lock and does no I/O. Counts go into the bucket of the current minute.
- `Metrics.flush()` (every `flush_interval` seconds from a daemon thread once `start()` is
  called, and at exit) writes the deltas since the last flush to a SQLite file in one
  transaction. A failed flush is logged and its deltas kept for the next one; it never
  raises, so a full disk cannot break authentication.
- Several processes and replicas may write one file (WAL mode, busy timeout): rows carry an
  instance id (default `hostname:pid`) and are summed on read, so nothing is overwritten.
- `read_metrics()` opens the file read-only, even while servers write it, and answers what
  `migrate status` asks: counts over the last hour, the last day and in total, opaque usage
  per client, the last opaque mint and acceptance, and which instances report.

Prometheus (optional; `prometheus_collector()` and `render_prometheus()` read the counters at
scrape time, so the request path pays nothing for them). Counters are cumulative per process:

- `oauth_migrate_token_validations_total{kind,outcome,reason}` (counter)
- `oauth_migrate_token_validations_by_client_total{kind,outcome,client_id}` (counter; `client_id=""`
  when the token's record names no client)
- `oauth_migrate_tokens_minted_total{kind}` (counter)
- `oauth_migrate_last_opaque_accepted_timestamp_seconds` (gauge, Unix time; 0 when never)
- `oauth_migrate_last_opaque_minted_timestamp_seconds` (gauge, Unix time; 0 when never)
- `oauth_migrate_started_timestamp_seconds` (gauge, Unix time this process began counting)

A client or a careless caller must not grow memory or label sets without bound: at most
`max_clients` client ids and `max_reasons` reasons are kept per process, the rest are counted
as `"_other"`, and labels are cut to 200 characters.

The store (schema 1, in `PRAGMA user_version`; `PRAGMA application_id` marks the file as ours):

- `validations(minute, instance, kind, outcome, reason, client_id, count, last_seen)`
- `mints(minute, instance, kind, client_id, count, last_seen)`
- `instances(instance, started, last_flush)`

`minute` is Unix time // 60; rows older than two days are merged into one row per key with
minute -1, which keeps the file small over a long hybrid period and still counts in totals.
`client_id` is "" when unknown. `count` is summed across rows, `last_seen` is the maximum.

This module is copied into servers under another package name: standard library only,
prometheus_client imported lazily when present.
"""

from __future__ import annotations

import atexit
import importlib
import logging
import os
import signal
import socket
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any, Final, Literal, TypeVar, cast

__all__ = [
    "ClientUsage",
    "InstanceInfo",
    "Kind",
    "Metrics",
    "MetricsReport",
    "MetricsSnapshot",
    "MetricsUnavailable",
    "Outcome",
    "read_metrics",
    "render_prometheus",
]

logger = logging.getLogger("oauth_migration.metrics")

Kind = Literal["jwt", "opaque"]
Outcome = Literal["accepted", "rejected"]

KINDS: Final[tuple[Kind, ...]] = ("jwt", "opaque")
OUTCOMES: Final[tuple[Outcome, ...]] = ("accepted", "rejected")

OVERFLOW_LABEL: Final = "_other"
DEFAULT_MAX_CLIENTS: Final = 1000
DEFAULT_MAX_REASONS: Final = 100
MAX_LABEL_LENGTH: Final = 200

SCHEMA_VERSION: Final = 1
APPLICATION_ID: Final = 0x6F6D6574  # "omet"
# Long enough to ride out another process's flush, short enough that close() at exit returns.
BUSY_TIMEOUT_SECONDS: Final = 5.0
HOUR: Final = 3600.0
DAY: Final = 86400.0
COMPACTED_MINUTE: Final = -1
# Beyond the longest window read_metrics() reports, so merging these rows changes no window.
COMPACT_AFTER_MINUTES: Final = 2 * 24 * 60
_COMPACT_EVERY_SECONDS: Final = 3600.0
# Through a long outage (disk full) kept deltas are merged into hour buckets past this many
# entries rather than dropped: lost opaque counts could make finalize look safe.
_MAX_UNFLUSHED = 50_000
_WARN_EVERY_SECONDS: Final = 600.0

_Key = tuple[Kind, Outcome, str, str | None]
_BucketKey = tuple[int, Kind, Outcome, str, str | None]
_MintKey = tuple[int, Kind, str | None]
_K = TypeVar("_K", bound=tuple[Any, ...])


class MetricsUnavailable(Exception):
    """The metrics file is missing, unreadable, or not a metrics store."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = Path(path)
        super().__init__(f"metrics file {self.path} {problem}")


@dataclass(frozen=True)
class MetricsSnapshot:
    """This process's cumulative totals since it started counting."""

    validations: Mapping[tuple[Kind, Outcome, str], int]
    by_client: Mapping[tuple[Kind, Outcome, str | None], int]
    jwt_minted: int
    opaque_minted: int
    last_opaque_minted: float | None
    last_opaque_accepted: float | None


@dataclass(frozen=True)
class ClientUsage:
    """How often one client used (or was given) opaque tokens, and when last."""

    client_id: str | None
    count: int
    last_seen: float


@dataclass(frozen=True)
class InstanceInfo:
    """One process that wrote the file: when it started counting and when it last flushed."""

    instance: str
    started: float
    last_flush: float


@dataclass(frozen=True)
class MetricsReport:
    """What the metrics file says, summed over every instance that wrote it.

    Windows are whole minutes: a minute bucket counts in a window when any part of it does,
    so a window may hold up to one minute more than its length, never less.
    """

    path: Path
    now: float
    total: Mapping[tuple[Kind, Outcome], int]
    last_day: Mapping[tuple[Kind, Outcome], int]
    last_hour: Mapping[tuple[Kind, Outcome], int]
    by_reason: Mapping[tuple[Kind, Outcome, str], int]
    opaque_clients: tuple[ClientUsage, ...]
    """Accepted opaque tokens per client, most recently seen first."""
    opaque_mint_clients: tuple[ClientUsage, ...]
    """Opaque tokens minted per client, most recently minted first."""
    jwt_minted: int
    opaque_minted: int
    last_opaque_minted: float | None
    last_opaque_accepted: float | None
    first_seen: float | None
    """When the earliest instance started counting: nothing before it was observed."""
    instances: tuple[InstanceInfo, ...]
    opaque_accepted_by_minute: tuple[tuple[int, int], ...]
    """(minute, count) of accepted opaque tokens, oldest first; minute -1 holds merged old rows."""

    def opaque_accepted_since(self, since: float) -> int:
        """Count accepted opaque tokens at or after `since` (Unix time).

        Zero exactly when none was accepted since then. Otherwise the count of the minute
        buckets from the one holding `since` on; for a time older than two days, whose rows
        are merged, a lower bound of at least 1.
        """
        if self.last_opaque_accepted is None or self.last_opaque_accepted < since:
            return 0
        first_minute = int(since // 60)
        counted = sum(n for minute, n in self.opaque_accepted_by_minute if minute >= first_minute)
        return max(counted, 1)


class _Tally:
    __slots__ = ("count", "last_seen")

    def __init__(self, count: int = 0, last_seen: float = 0.0) -> None:
        self.count = count
        self.last_seen = last_seen

    def add(self, count: int, last_seen: float) -> None:
        self.count += count
        if last_seen > self.last_seen:
            self.last_seen = last_seen


def _merge(into: dict[_K, _Tally], key: _K, count: int, last_seen: float) -> None:
    tally = into.get(key)
    if tally is None:
        into[key] = _Tally(count, last_seen)
    else:
        tally.add(count, last_seen)


def _coarsen(buckets: dict[_K, _Tally]) -> dict[_K, _Tally]:
    coarse: dict[_K, _Tally] = {}
    for key, tally in buckets.items():
        # The hour's last minute, so the bucket stays in every window any of its events is in.
        hour_minute = key[0] // 60 * 60 + 59
        _merge(coarse, cast(_K, (hour_minute, *key[1:])), tally.count, tally.last_seen)
    return coarse


class Metrics:
    """Counters for one server process, flushed to an optional shared SQLite file."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        flush_interval: float = 5.0,
        instance: str | None = None,
        clock: Callable[[], float] = time.time,
        max_clients: int = DEFAULT_MAX_CLIENTS,
        max_reasons: int = DEFAULT_MAX_REASONS,
    ) -> None:
        if flush_interval <= 0:
            raise ValueError(f"flush_interval must be positive, not {flush_interval!r}")
        self._path = Path(path) if path is not None else None
        self._flush_interval = flush_interval
        self._fixed_instance = instance
        self._clock = clock
        self._max_clients = max_clients
        self._max_reasons = max_reasons
        # More Prometheus families at scrape time, each given prometheus_client.core (the
        # runtime adds its phase and the shared denylist's state).
        self.extra_families: list[Callable[[ModuleType], Iterable[Any]]] = []
        # Not reset in a forked child, which inherits the parent's atexit registrations.
        self._atexit_registered = False
        self._reset()
        if hasattr(os, "register_at_fork"):
            # Servers that load the app and then fork workers (gunicorn --preload) would
            # otherwise have workers whose flusher thread did not survive the fork.
            after_fork = weakref.WeakMethod(self._after_fork_in_child)

            def hook() -> None:
                method = after_fork()
                if method is not None:
                    method()

            os.register_at_fork(after_in_child=hook)

    def _reset(self) -> None:
        self._lock = threading.Lock()  # guards every counter below
        self._flush_lock = threading.Lock()  # one flush at a time: thread, atexit, caller
        self._lifecycle_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._instance = self._fixed_instance or f"{socket.gethostname()}:{os.getpid()}"
        self._started = self._clock()
        # Counts of the current minute, keyed without the minute so the request path builds
        # a small tuple; they move to the cumulative totals and the unflushed buckets when the
        # minute ends or someone reads or flushes.
        self._pending: dict[_Key, _Tally] = {}
        self._minute = 0
        self._minute_end = float("-inf")
        self._clients: set[str] = set()
        self._reasons: set[str] = set()
        self._validations: dict[tuple[Kind, Outcome, str], int] = {}
        self._by_client: dict[tuple[Kind, Outcome, str | None], int] = {}
        self._minted: dict[Kind, int] = {"jwt": 0, "opaque": 0}
        self._last_opaque_minted: float | None = None
        self._last_opaque_accepted: float | None = None
        self._unflushed: dict[_BucketKey, _Tally] = {}
        self._unflushed_mints: dict[_MintKey, _Tally] = {}
        self._failures = 0
        self._last_warning = float("-inf")
        self._next_compaction = float("-inf")

    def _after_fork_in_child(self) -> None:
        was_running = self._thread is not None
        # The child is a new process: the parent flushes what it counted before the fork.
        self._reset()
        if was_running:
            self.start()

    @property
    def path(self) -> Path | None:
        """The SQLite file this process flushes to, if any."""
        return self._path

    @property
    def started(self) -> float:
        """When this process started counting."""
        return self._started

    @property
    def instance(self) -> str:
        """The id this process's rows carry in the file."""
        return self._instance

    def validation(
        self, kind: Kind, outcome: Outcome, reason: str, client_id: str | None = None
    ) -> None:
        """Count one bearer-token validation; called on every request.

        No I/O, nothing allocated beyond the time and the key tuple (and a counter for a new
        key): it sits inside a gate whose cached path must stay under 2 µs. Thread-safe.
        """
        now = self._clock()
        key = (kind, outcome, reason, client_id)
        # acquire/release rather than `with`: about 100 ns less per call on CPython 3.11.
        lock = self._lock
        lock.acquire()
        try:
            if now >= self._minute_end:
                self._roll(now)
            tally = self._pending.get(key)
            if tally is None:
                tally = self._admit(key)
            tally.count += 1
            tally.last_seen = now
        finally:
            lock.release()

    def opaque_minted(self, client_id: str | None = None) -> None:
        """Count one opaque access token minted, and remember when."""
        self._mint("opaque", client_id)

    def jwt_minted(self, client_id: str | None = None) -> None:
        """Count one JWT access token minted."""
        self._mint("jwt", client_id)

    def snapshot(self) -> MetricsSnapshot:
        """This process's cumulative totals; flushing does not reset them."""
        with self._lock:
            self._fold()
            return MetricsSnapshot(
                validations=dict(self._validations),
                by_client=dict(self._by_client),
                jwt_minted=self._minted["jwt"],
                opaque_minted=self._minted["opaque"],
                last_opaque_minted=self._last_opaque_minted,
                last_opaque_accepted=self._last_opaque_accepted,
            )

    def flush(self) -> bool:
        """Write the deltas since the last flush to the file in one transaction.

        Never raises: on failure, logs a warning, keeps the deltas for the next flush and
        returns False. Returns True when written, or when there is no file to write.
        """
        with self._flush_lock:
            with self._lock:
                self._fold()
                validations, self._unflushed = self._unflushed, {}
                mints, self._unflushed_mints = self._unflushed_mints, {}
            if self._path is None:
                return True
            now = self._clock()
            try:
                self._write(self._path, validations, mints, now)
            except Exception as exc:  # anything: the caller may be a request or atexit
                self._keep(validations, mints)
                self._report_failure(exc, now)
                return False
            if self._failures:
                logger.info(
                    "token metrics written to %s again after %d failed flushes",
                    self._path,
                    self._failures,
                )
                self._failures = 0
            return True

    def start(self) -> None:
        """Flush every `flush_interval` seconds from a daemon thread, and at exit.

        Idempotent; does nothing without a file.
        """
        if self._path is None:
            return
        with self._lifecycle_lock:
            if self._thread is not None:
                return
            # A fresh event per thread: an old thread that outlived close()'s join must not
            # be revived by clearing the event it waits on.
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=self._run, args=(self._stop,), name="oauth-migration-metrics", daemon=True
            )
            self._thread.start()
            if not self._atexit_registered:
                atexit.register(self.close)
                self._atexit_registered = True
                _flush_on_sigterm(self)

    def close(self) -> None:
        """Stop the flusher thread and flush one last time. Counting still works after."""
        with self._lifecycle_lock:
            thread, self._thread = self._thread, None
            self._stop.set()
            if self._atexit_registered:
                atexit.unregister(self.close)
                self._atexit_registered = False
        if thread is not None:
            thread.join(timeout=2 * BUSY_TIMEOUT_SECONDS)
        self.flush()

    def __enter__(self) -> Metrics:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def prometheus_collector(self) -> Any | None:
        """A prometheus_client collector reading these counters, or None without it."""
        prometheus = _import_prometheus()
        if prometheus is None:
            return None
        return _PrometheusCollector(self, prometheus[1])

    def _roll(self, now: float) -> None:
        self._fold()
        self._minute = int(now // 60)
        self._minute_end = (self._minute + 1) * 60.0

    def _admit(self, key: _Key) -> _Tally:
        kind, outcome, reason, client_id = key
        if kind not in KINDS or outcome not in OUTCOMES:
            raise ValueError(f"unknown token kind or outcome: {kind!r}, {outcome!r}")
        capped: _Key = (
            kind,
            outcome,
            self._cap(reason, self._reasons, self._max_reasons),
            None if client_id is None else self._cap(client_id, self._clients, self._max_clients),
        )
        tally = self._pending.get(capped)
        if tally is None:
            # Overflowing labels are not stored under their own key: a stream of new client
            # ids takes this slow path each time, but never costs memory.
            tally = self._pending[capped] = _Tally()
        return tally

    @staticmethod
    def _cap(label: str, seen: set[str], limit: int) -> str:
        label = label[:MAX_LABEL_LENGTH]
        if label in seen:
            return label
        if len(seen) >= limit:
            return OVERFLOW_LABEL
        seen.add(label)
        return label

    def _fold(self) -> None:
        pending = self._pending
        if not pending:
            return
        self._pending = {}
        minute = self._minute
        keep = self._path is not None
        for (kind, outcome, reason, client_id), tally in pending.items():
            by_reason = (kind, outcome, reason)
            self._validations[by_reason] = self._validations.get(by_reason, 0) + tally.count
            by_client = (kind, outcome, client_id)
            self._by_client[by_client] = self._by_client.get(by_client, 0) + tally.count
            if kind == "opaque" and outcome == "accepted":
                last = self._last_opaque_accepted
                if last is None or tally.last_seen > last:
                    self._last_opaque_accepted = tally.last_seen
            if keep:
                bucket: _BucketKey = (minute, kind, outcome, reason, client_id)
                _merge(self._unflushed, bucket, tally.count, tally.last_seen)
        if keep:
            self._bound_unflushed()

    def _mint(self, kind: Kind, client_id: str | None) -> None:
        now = self._clock()
        with self._lock:
            if client_id is not None:
                client_id = self._cap(client_id, self._clients, self._max_clients)
            self._minted[kind] += 1
            if kind == "opaque" and (
                self._last_opaque_minted is None or now > self._last_opaque_minted
            ):
                self._last_opaque_minted = now
            if self._path is not None:
                _merge(self._unflushed_mints, (int(now // 60), kind, client_id), 1, now)
                self._bound_unflushed()

    def _keep(self, validations: dict[_BucketKey, _Tally], mints: dict[_MintKey, _Tally]) -> None:
        with self._lock:
            for key, tally in validations.items():
                _merge(self._unflushed, key, tally.count, tally.last_seen)
            for mint_key, tally in mints.items():
                _merge(self._unflushed_mints, mint_key, tally.count, tally.last_seen)
            self._bound_unflushed()

    def _bound_unflushed(self) -> None:
        # Deltas pile up while flushes fail (disk full) or when nobody calls start().
        if len(self._unflushed) > _MAX_UNFLUSHED:
            self._unflushed = _coarsen(self._unflushed)
        if len(self._unflushed_mints) > _MAX_UNFLUSHED:
            self._unflushed_mints = _coarsen(self._unflushed_mints)

    def _report_failure(self, exc: Exception, now: float) -> None:
        self._failures += 1
        # A disk that stays full would otherwise log every few seconds for hours.
        if self._failures > 1 and now - self._last_warning < _WARN_EVERY_SECONDS:
            return
        self._last_warning = now
        logger.warning(
            "could not write token metrics to %s (%s: %s); %d failed flushes in a row, "
            "counts kept for the next try",
            self._path,
            type(exc).__name__,
            exc,
            self._failures,
        )

    def _run(self, stop: threading.Event) -> None:
        while not stop.wait(self._flush_interval):
            try:
                self.flush()
            except Exception:  # flush() catches its own; this keeps the thread alive on bugs
                logger.exception("token metrics flusher failed")

    def _write(
        self,
        path: Path,
        validations: dict[_BucketKey, _Tally],
        mints: dict[_MintKey, _Tally],
        now: float,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        _create_private(path)
        connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        with closing(connection):
            # Check before switching to WAL, which would change someone else's database.
            _check_store(connection, path, allow_empty=True)
            connection.execute("PRAGMA journal_mode=WAL")
            # WAL with NORMAL loses at most the last flushes on power loss, never the file.
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("BEGIN IMMEDIATE")
            try:
                # Checked again: another process may have created the store meanwhile.
                if _check_store(connection, path, allow_empty=True) == "empty":
                    for statement in _SCHEMA:
                        connection.execute(statement)
                instance = self._instance
                connection.executemany(
                    _UPSERT_VALIDATION,
                    (
                        (m, instance, kind, outcome, reason, client_id or "", t.count, t.last_seen)
                        for (m, kind, outcome, reason, client_id), t in validations.items()
                    ),
                )
                connection.executemany(
                    _UPSERT_MINT,
                    (
                        (m, instance, kind, client_id or "", t.count, t.last_seen)
                        for (m, kind, client_id), t in mints.items()
                    ),
                )
                connection.execute(_UPSERT_INSTANCE, (instance, self._started, now))
                compact = now >= self._next_compaction
                if compact:
                    cutoff = int(now // 60) - COMPACT_AFTER_MINUTES
                    for statement in _COMPACT:
                        connection.execute(statement, (cutoff,))
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
        if compact:
            self._next_compaction = now + _COMPACT_EVERY_SECONDS


_SCHEMA: Final = (
    """CREATE TABLE validations (
        minute INTEGER NOT NULL, instance TEXT NOT NULL, kind TEXT NOT NULL,
        outcome TEXT NOT NULL, reason TEXT NOT NULL, client_id TEXT NOT NULL,
        count INTEGER NOT NULL, last_seen REAL NOT NULL,
        PRIMARY KEY (minute, instance, kind, outcome, reason, client_id)
    ) WITHOUT ROWID""",
    """CREATE TABLE mints (
        minute INTEGER NOT NULL, instance TEXT NOT NULL, kind TEXT NOT NULL,
        client_id TEXT NOT NULL, count INTEGER NOT NULL, last_seen REAL NOT NULL,
        PRIMARY KEY (minute, instance, kind, client_id)
    ) WITHOUT ROWID""",
    """CREATE TABLE instances (
        instance TEXT PRIMARY KEY, started REAL NOT NULL, last_flush REAL NOT NULL
    ) WITHOUT ROWID""",
    f"PRAGMA application_id = {APPLICATION_ID}",
    f"PRAGMA user_version = {SCHEMA_VERSION}",
)
_UPSERT_VALIDATION: Final = """
    INSERT INTO validations
        (minute, instance, kind, outcome, reason, client_id, count, last_seen)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT DO UPDATE SET
        count = count + excluded.count, last_seen = max(last_seen, excluded.last_seen)
"""
_UPSERT_MINT: Final = """
    INSERT INTO mints (minute, instance, kind, client_id, count, last_seen)
    VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT DO UPDATE SET
        count = count + excluded.count, last_seen = max(last_seen, excluded.last_seen)
"""
_UPSERT_INSTANCE: Final = """
    INSERT INTO instances (instance, started, last_flush) VALUES (?, ?, ?)
    ON CONFLICT DO UPDATE SET
        started = min(started, excluded.started),
        last_flush = max(last_flush, excluded.last_flush)
"""
_COMPACT: Final = (
    f"""INSERT INTO validations
        (minute, instance, kind, outcome, reason, client_id, count, last_seen)
    SELECT {COMPACTED_MINUTE}, instance, kind, outcome, reason, client_id,
        sum(count), max(last_seen)
    FROM validations WHERE minute >= 0 AND minute < ?1
    GROUP BY instance, kind, outcome, reason, client_id
    ON CONFLICT DO UPDATE SET
        count = count + excluded.count, last_seen = max(last_seen, excluded.last_seen)""",
    "DELETE FROM validations WHERE minute >= 0 AND minute < ?1",
    f"""INSERT INTO mints (minute, instance, kind, client_id, count, last_seen)
    SELECT {COMPACTED_MINUTE}, instance, kind, client_id, sum(count), max(last_seen)
    FROM mints WHERE minute >= 0 AND minute < ?1
    GROUP BY instance, kind, client_id
    ON CONFLICT DO UPDATE SET
        count = count + excluded.count, last_seen = max(last_seen, excluded.last_seen)""",
    "DELETE FROM mints WHERE minute >= 0 AND minute < ?1",
)


def _create_private(path: Path) -> None:
    # Client ids are worth keeping private; SQLite gives its -wal and -shm files this mode.
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(descriptor)


def _check_store(
    connection: sqlite3.Connection, path: Path, *, allow_empty: bool
) -> Literal["empty", "ours"]:
    application_id = connection.execute("PRAGMA application_id").fetchone()[0]
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    if application_id == 0 and version == 0:
        tables = connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if tables == 0:
            if allow_empty:
                return "empty"
            raise MetricsUnavailable(path, "holds no metrics yet (no server has flushed)")
    if application_id != APPLICATION_ID:
        raise MetricsUnavailable(path, "is not an oauth-migrate metrics store")
    if version != SCHEMA_VERSION:
        raise MetricsUnavailable(
            path, f"has metrics schema {version}; this code knows schema {SCHEMA_VERSION}"
        )
    return "ours"


def read_metrics(path: str | os.PathLike[str], *, now: float | None = None) -> MetricsReport:
    """Read the metrics file, summed over every instance that writes it.

    Opens the file read-only, in one read transaction, so it is safe while servers flush.
    Raises MetricsUnavailable when the file is missing or not a metrics store.
    """
    path = Path(path)
    if now is None:
        now = time.time()
    if not path.exists():
        raise MetricsUnavailable(path, "does not exist (has the hybrid server flushed yet?)")
    if not path.is_file():
        raise MetricsUnavailable(path, "is not a file")
    try:
        connection = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro",
            uri=True,
            timeout=BUSY_TIMEOUT_SECONDS,
            isolation_level=None,
        )
    except sqlite3.Error as exc:
        raise MetricsUnavailable(path, f"cannot be opened: {exc}") from exc
    with closing(connection):
        try:
            connection.execute("BEGIN")
            _check_store(connection, path, allow_empty=False)
            return _report(connection, path, now)
        except sqlite3.Error as exc:
            raise MetricsUnavailable(path, f"cannot be read: {exc}") from exc
        finally:
            if connection.in_transaction:
                connection.execute("COMMIT")


def _report(connection: sqlite3.Connection, path: Path, now: float) -> MetricsReport:
    pairs = [(kind, outcome) for kind in KINDS for outcome in OUTCOMES]
    total = dict.fromkeys(pairs, 0)
    last_day = dict.fromkeys(pairs, 0)
    last_hour = dict.fromkeys(pairs, 0)
    by_reason: dict[tuple[Kind, Outcome, str], int] = {}
    rows = connection.execute(
        """SELECT kind, outcome, reason, sum(count),
            sum(CASE WHEN minute >= ?1 THEN count ELSE 0 END),
            sum(CASE WHEN minute >= ?2 THEN count ELSE 0 END)
        FROM validations GROUP BY kind, outcome, reason""",
        (int((now - DAY) // 60), int((now - HOUR) // 60)),
    )
    for kind, outcome, reason, in_total, in_day, in_hour in rows:
        pair = _known(kind, outcome)
        if pair is None:
            continue
        total[pair] += in_total
        last_day[pair] += in_day
        last_hour[pair] += in_hour
        by_reason[(*pair, reason)] = in_total

    opaque_clients = tuple(
        ClientUsage(client_id or None, count, last_seen)
        for client_id, count, last_seen in connection.execute(
            """SELECT client_id, sum(count), max(last_seen) FROM validations
            WHERE kind = 'opaque' AND outcome = 'accepted'
            GROUP BY client_id ORDER BY max(last_seen) DESC, client_id"""
        )
    )
    by_minute = tuple(
        (minute, count)
        for minute, count in connection.execute(
            """SELECT minute, sum(count) FROM validations
            WHERE kind = 'opaque' AND outcome = 'accepted' GROUP BY minute ORDER BY minute"""
        )
    )
    mint_rows = connection.execute(
        """SELECT kind, client_id, sum(count), max(last_seen) FROM mints
        GROUP BY kind, client_id ORDER BY max(last_seen) DESC, client_id"""
    ).fetchall()
    opaque_mint_clients = tuple(
        ClientUsage(client_id or None, count, last_seen)
        for kind, client_id, count, last_seen in mint_rows
        if kind == "opaque"
    )
    instances = tuple(
        InstanceInfo(instance, started, last_flush)
        for instance, started, last_flush in connection.execute(
            "SELECT instance, started, last_flush FROM instances ORDER BY instance"
        )
    )
    return MetricsReport(
        path=path,
        now=now,
        total=total,
        last_day=last_day,
        last_hour=last_hour,
        by_reason=by_reason,
        opaque_clients=opaque_clients,
        opaque_mint_clients=opaque_mint_clients,
        jwt_minted=sum(count for kind, _, count, _ in mint_rows if kind == "jwt"),
        opaque_minted=sum(usage.count for usage in opaque_mint_clients),
        last_opaque_minted=max((u.last_seen for u in opaque_mint_clients), default=None),
        last_opaque_accepted=max((u.last_seen for u in opaque_clients), default=None),
        first_seen=min((i.started for i in instances), default=None),
        instances=instances,
        opaque_accepted_by_minute=by_minute,
    )


def _known(kind: object, outcome: object) -> tuple[Kind, Outcome] | None:
    # Rows another tool wrote with other values are ignored rather than trusted.
    for known_kind in KINDS:
        for known_outcome in OUTCOMES:
            if kind == known_kind and outcome == known_outcome:
                return known_kind, known_outcome
    return None


def _import_prometheus() -> tuple[ModuleType, ModuleType] | None:
    # import_module rather than an import statement: a server without prometheus_client that
    # runs mypy over this copied file must not fail on a missing import.
    try:
        return (
            importlib.import_module("prometheus_client"),
            importlib.import_module("prometheus_client.core"),
        )
    except ImportError:
        return None


class _PrometheusCollector:
    """Builds metric families from a snapshot at scrape time."""

    def __init__(self, metrics: Metrics, core: ModuleType) -> None:
        self._metrics = metrics
        self._core = core

    def describe(self) -> list[Any]:
        # Names only, so registering does not read the counters.
        return list(self._families(MetricsSnapshot({}, {}, 0, 0, None, None)))

    def collect(self) -> Iterator[Any]:
        yield from self._families(self._metrics.snapshot())
        for extra in self._metrics.extra_families:
            yield from extra(self._core)

    def _families(self, snapshot: MetricsSnapshot) -> Iterator[Any]:
        core = self._core
        validations = core.CounterMetricFamily(
            "oauth_migrate_token_validations_total",
            "Bearer tokens validated, by token kind, outcome and reason.",
            labels=("kind", "outcome", "reason"),
        )
        for (kind, outcome, reason), count in sorted(snapshot.validations.items()):
            validations.add_metric((kind, outcome, reason), count)
        yield validations
        by_client = core.CounterMetricFamily(
            "oauth_migrate_token_validations_by_client_total",
            "Bearer tokens validated, by token kind, outcome and client id.",
            labels=("kind", "outcome", "client_id"),
        )
        labelled = sorted(
            ((kind, outcome, client_id or ""), count)
            for (kind, outcome, client_id), count in snapshot.by_client.items()
        )
        for labels, count in labelled:
            by_client.add_metric(labels, count)
        yield by_client
        minted = core.CounterMetricFamily(
            "oauth_migrate_tokens_minted_total",
            "Access tokens minted, by token kind.",
            labels=("kind",),
        )
        minted.add_metric(("jwt",), snapshot.jwt_minted)
        minted.add_metric(("opaque",), snapshot.opaque_minted)
        yield minted
        yield core.GaugeMetricFamily(
            "oauth_migrate_last_opaque_accepted_timestamp_seconds",
            "Unix time an opaque access token was last accepted; 0 when never.",
            value=snapshot.last_opaque_accepted or 0.0,
        )
        yield core.GaugeMetricFamily(
            "oauth_migrate_last_opaque_minted_timestamp_seconds",
            "Unix time an opaque access token was last minted; 0 when never.",
            value=snapshot.last_opaque_minted or 0.0,
        )
        yield core.GaugeMetricFamily(
            "oauth_migrate_started_timestamp_seconds",
            "Unix time this process started counting (the hybrid code began to run).",
            value=self._metrics.started,
        )


def _flush_on_sigterm(metrics: Metrics) -> None:
    """Flush before a SIGTERM ends the process: Python runs no atexit hook then, and
    servers are stopped that way (systemd, containers). The handler in place is kept and
    called after; a server installing its own handler later restores ours when it exits,
    as uvicorn does. Only the main thread may set handlers: elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGTERM)

    def flush_then_continue(signum: int, frame: FrameType | None) -> None:
        # In a thread, with a time limit: the signal may have interrupted the main thread
        # while it held the counters' lock, and waiting for it here would never end.
        flusher = threading.Thread(target=metrics.close, daemon=True)
        flusher.start()
        flusher.join(timeout=2.0)
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, flush_then_continue)


def render_prometheus(metrics: Metrics) -> bytes | None:
    """The Prometheus text exposition of `metrics`, or None without prometheus_client."""
    prometheus = _import_prometheus()
    if prometheus is None:
        return None
    client, core = prometheus
    registry = client.CollectorRegistry(auto_describe=False)
    registry.register(_PrometheusCollector(metrics, core))
    return bytes(client.generate_latest(registry))
