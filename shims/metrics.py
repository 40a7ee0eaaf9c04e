"""Count token validations and mints during the hybrid period, and flush them to a shared file.

Finalize is safe only when no opaque access token can still be in use (STANDARDS.md, "The
hybrid period and finalize"): no opaque token minted for a full lifetime since the last one,
and no opaque token accepted in the recent window. Only the server sees that, on every
request, so the gate reports each validation here and `migrate status` reads the result.

- `Metrics.validation()` sits on the request path: it bumps an in-memory counter under one
  lock and does no I/O. Counts go into the bucket of the current minute.
- `Metrics.flush()` (every `flush_interval` seconds from a daemon thread once `start()` is
  called, and at exit or SIGTERM) writes the deltas since the last flush to the SQLite file
  (`metrics_store`) in one transaction. A failed flush is logged and its deltas kept for the
  next one; it never raises, so a full disk cannot break authentication.

A client or a careless caller must not grow memory or label sets without bound: at most
`max_clients` client ids and `max_reasons` reasons are kept per process, the rest are counted
as `"_other"`, and labels are cut to 200 characters.

The file's schema and its reader live in `metrics_store`, the Prometheus exposition in
`metrics_prometheus`; the names callers use are re-exported here.

This module is copied into servers under another package name: standard library only.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any, Final, TypeVar, cast

from .metrics_prometheus import PrometheusCollector, import_prometheus, render_prometheus
from .metrics_store import (
    APPLICATION_ID,
    BUSY_TIMEOUT_SECONDS,
    COMPACT_AFTER_MINUTES,
    COMPACTED_MINUTE,
    DAY,
    HOUR,
    KINDS,
    OUTCOMES,
    SCHEMA_VERSION,
    ClientUsage,
    InstanceInfo,
    Kind,
    MetricsReport,
    MetricsUnavailable,
    MintRow,
    Outcome,
    ValidationRow,
    read_metrics,
    write_deltas,
)

__all__ = [
    "APPLICATION_ID",
    "COMPACTED_MINUTE",
    "COMPACT_AFTER_MINUTES",
    "DAY",
    "HOUR",
    "KINDS",
    "OUTCOMES",
    "SCHEMA_VERSION",
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

OVERFLOW_LABEL: Final = "_other"
DEFAULT_MAX_CLIENTS: Final = 1000
DEFAULT_MAX_REASONS: Final = 100
MAX_LABEL_LENGTH: Final = 200

_COMPACT_EVERY_SECONDS: Final = 3600.0
# Through a long outage (disk full) kept deltas are merged into hour buckets past this many
# entries rather than dropped: lost opaque counts could make finalize look safe.
_MAX_UNFLUSHED = 50_000
_WARN_EVERY_SECONDS: Final = 600.0

_Key = tuple[Kind, Outcome, str, str | None]
_BucketKey = tuple[int, Kind, Outcome, str, str | None]
_MintKey = tuple[int, Kind, str | None]
_K = TypeVar("_K", bound=tuple[Any, ...])


@dataclass(frozen=True)
class MetricsSnapshot:
    """This process's cumulative totals since it started counting."""

    validations: Mapping[tuple[Kind, Outcome, str], int]
    by_client: Mapping[tuple[Kind, Outcome, str | None], int]
    jwt_minted: int
    opaque_minted: int
    last_opaque_minted: float | None
    last_opaque_accepted: float | None


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
        prometheus = import_prometheus()
        if prometheus is None:
            return None
        return PrometheusCollector(self, prometheus[1])

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
        compact = now >= self._next_compaction
        validation_rows: list[ValidationRow] = [
            (*key, tally.count, tally.last_seen) for key, tally in validations.items()
        ]
        mint_rows: list[MintRow] = [(*key, t.count, t.last_seen) for key, t in mints.items()]
        write_deltas(
            path,
            instance=self._instance,
            started=self._started,
            validations=validation_rows,
            mints=mint_rows,
            now=now,
            compact=compact,
        )
        if compact:
            self._next_compaction = now + _COMPACT_EVERY_SECONDS


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
