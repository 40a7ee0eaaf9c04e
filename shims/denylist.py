"""Revoked JWT ids, each kept until its token's ``exp`` (after that the token is dead anyway).

A JWT that never reaches the legacy store would silently survive revocation; the legacy
delete paths (refresh rotation, ``/revoke``) feed this list instead. With a ``path`` the
list is also kept in a small SQLite file, so a restart does not bring revoked tokens back
and workers or replicas sharing the file see each other's revocations within a second.

Membership is a dict lookup under a lock. The change signal lives in the database, not
in the file's mtime (two writes in one coarse mtime tick would look like one): every
write gives its row a rowid above all earlier ones, and a reload, at most once a second,
reads only ``WHERE rowid > <the highest rowid read>``. That mark moves only after a read
succeeded, so a reload that failed (a locked file) is retried at the next check. Expired
entries are purged now and then (``PURGE_SECONDS``), by an index on ``exp``, not on
every revocation, and out of memory by a heap of expiries, a bounded batch at a time: the
cost of a revocation, a reload or a purge does not grow with the list.
"""

from __future__ import annotations

import heapq
import logging
import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

log = logging.getLogger("oauth_migration.denylist")
RELOAD_SECONDS = 1.0
PURGE_SECONDS = 60.0
# Expired entries one purge drops at most (about 1 ms of work): a larger backlog (a
# million revocations ending in one minute) is dropped over the next adds and reloads.
PURGE_BATCH = 2000
# A reload runs on the request path: it waits briefly for a locked file, then tries
# again at the next check. A revocation may wait longer: it must be kept.
READ_TIMEOUT_MS = 100
WRITE_TIMEOUT_MS = 5000

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS revoked (jti TEXT PRIMARY KEY, exp REAL)",
    "CREATE INDEX IF NOT EXISTS revoked_exp ON revoked (exp)",
)
# The new row's rowid is one above the highest: REPLACE drops the old row first, and
# SQLite would otherwise reuse that rowid, which readers past it would never read.
_INSERT = (
    "INSERT OR REPLACE INTO revoked (rowid, jti, exp) VALUES ("
    "(SELECT coalesce(max(rowid), 0) + 1 FROM revoked), ?1,"
    " max(?2, coalesce((SELECT exp FROM revoked WHERE jti = ?1), ?2)))"
)
# The row with the highest rowid is kept, so the next rowid never goes back (see above).
_PURGE = "DELETE FROM revoked WHERE exp <= ? AND rowid < (SELECT max(rowid) FROM revoked)"
_NEWER = "SELECT rowid, jti, exp FROM revoked WHERE rowid > ? ORDER BY rowid"


class Denylist:
    """A set of ``jti`` values with expiry, optionally persisted."""

    def __init__(
        self, clock: Callable[[], float] = time.time, path: str | os.PathLike[str] | None = None
    ) -> None:
        self._until: dict[str, float] = {}
        # (exp, jti) of every entry written, earliest first: a purge pops what has expired
        # instead of scanning the whole list (72 ms at a million entries). A pair whose
        # entry was extended since is stale and skipped when popped.
        self._expiries: list[tuple[float, str]] = []
        self._lock = threading.Lock()  # the dict, the heap, and the marks below
        # Two connections: a reload on the request path never waits behind this
        # process's own write, which may wait seconds for another worker's lock.
        self._reader, self._writer = _Connection(), _Connection()
        self._clock = clock
        self._path = Path(path) if path is not None else None
        self._next_check = 0.0
        self._next_purge = clock() + PURGE_SECONDS  # memory
        self._next_file_purge = self._next_purge  # the file's rows (by whoever writes)
        self._seen_rowid = 0
        if self._path is not None:
            self._load()

    def __contains__(self, jti: object) -> bool:
        if self._path is not None:
            self._maybe_reload()
        # No lock for one dict lookup (atomic in CPython, per-object locked where the GIL
        # is off): it runs on every request; the lock orders the compound changes.
        return jti in self._until

    def __len__(self) -> int:
        with self._lock:
            return len(self._until)

    def add(self, jti: str, exp: float) -> None:
        with self._lock:
            self._hold([(jti, exp)])
            self._purge_due()
            purge = self._file_purge_due()
        if self._path is not None:
            self._store(jti, exp, purge)

    # -- in memory -----------------------------------------------------------------------

    def _hold(self, entries: Iterable[tuple[str, float]]) -> None:
        """With the lock held: each ``(jti, exp)`` into the dict, its exp never lowered
        (the longest any source asked for stands); only a change goes onto the heap, so a
        worker reading its own rows back, or a full reload of what it holds, adds nothing."""
        until, raised = self._until, dict[str, float]()
        for jti, exp in entries:
            held = raised.get(jti, until.get(jti))  # a jti twice in one batch: the later
            if held is None or exp > held:
                raised[jti] = exp
        if not raised:
            return
        until.update(raised)
        changed = [(exp, jti) for jti, exp in raised.items()]
        heap = self._expiries
        if len(changed) > len(heap):  # a load at start: one heapify, not a push each
            heap.extend(changed)
            heapq.heapify(heap)
        else:
            for pair in changed:
                heapq.heappush(heap, pair)
        if len(heap) > 2 * len(until) + 1024:  # stale pairs of extended entries: rebuild
            self._expiries = [(exp, jti) for jti, exp in until.items()]
            heapq.heapify(self._expiries)

    def _file_purge_due(self) -> bool:
        """With the lock held: whether this write should also purge the file's expired
        rows (once per PURGE_SECONDS; the index on exp makes it cost what it deletes)."""
        now = self._clock()
        if now < self._next_file_purge:
            return False
        self._next_file_purge = now + PURGE_SECONDS
        return True

    def _purge_due(self) -> None:
        """With the lock held: drop expired entries from memory once per PURGE_SECONDS,
        at most PURGE_BATCH of them (the rest at the next add or reload). Adds and
        reloads both call it: most workers only read."""
        now = self._clock()
        if now < self._next_purge:
            return
        self._next_purge = now + PURGE_SECONDS
        heap = self._expiries
        for _ in range(PURGE_BATCH):
            if not heap or heap[0][0] > now:
                return
            _, jti = heapq.heappop(heap)
            if self._until.get(jti, math.inf) <= now:
                del self._until[jti]
        if heap and heap[0][0] <= now:
            self._next_purge = now  # a backlog: the next call goes on with it

    def _maybe_reload(self) -> None:
        # Other workers sharing the file revoke too: look for new rows at most once a
        # second (a clock read per request, one indexed query per second).
        now = time.monotonic()
        if now < self._next_check:
            return
        self._next_check = now + RELOAD_SECONDS
        self._load()

    def _load(self) -> None:
        """Read the rows written since the last successful read, by any worker."""
        assert self._path is not None
        with self._lock:
            since = self._seen_rowid
        try:
            with self._reader.lock:
                connection = self._reader.get(self._path)
                connection.execute(f"PRAGMA busy_timeout = {READ_TIMEOUT_MS}")
                rows = connection.execute(_NEWER, (since,)).fetchall()
        except sqlite3.Error as exc:
            log.warning("cannot read the denylist %s (retried in a second): %s", self._path, exc)
            return
        if not rows:
            return
        now = self._clock()
        fresh = {str(jti): float(exp) for _, jti, exp in rows if float(exp) > now}
        with self._lock:
            self._hold(fresh.items())
            self._purge_due()
            self._seen_rowid = max(self._seen_rowid, int(rows[-1][0]))

    # -- the file ------------------------------------------------------------------------

    def _store(self, jti: str, exp: float, purge: bool) -> None:
        assert self._path is not None
        try:
            with self._writer.lock:
                connection = self._writer.get(self._path)
                connection.execute(f"PRAGMA busy_timeout = {WRITE_TIMEOUT_MS}")
                # IMMEDIATE: the write lock is taken before max(rowid) is read, so two
                # workers never compute the same next rowid.
                connection.execute("BEGIN IMMEDIATE")
                try:
                    connection.execute(_INSERT, (jti, exp))
                    if purge:
                        connection.execute(_PURGE, (self._clock(),))
                    connection.execute("COMMIT")
                except BaseException:
                    connection.execute("ROLLBACK")
                    raise
        except sqlite3.Error as exc:
            # The revocation holds in this process; log so the operator sees it is not kept.
            log.error("cannot record a revocation in %s: %s", self._path, exc)


class _Connection:
    """One SQLite connection of this process, used under ``lock``, opened again after a
    fork (a connection must not cross one)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._pid = 0

    def get(self, path: Path) -> sqlite3.Connection:
        if self._connection is None or self._pid != os.getpid():
            path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            try:
                for statement in _SCHEMA:
                    connection.execute(statement)
            except sqlite3.Error:
                connection.close()
                raise
            self._connection, self._pid = connection, os.getpid()
        return self._connection
