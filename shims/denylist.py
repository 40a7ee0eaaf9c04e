"""Revoked JWT ids, each kept until its token's ``exp`` (after that the token is dead anyway).

A JWT that never reaches the legacy store would silently survive revocation; the legacy
delete paths (refresh rotation, ``/revoke``) feed this list instead. With a ``path`` the
list is also kept in a small SQLite file, so a restart does not bring revoked tokens back
and workers or replicas sharing the file see each other's revocations within a second.
Membership is a dict lookup; the file's mtime is looked at no more than once a second.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

log = logging.getLogger("oauth_migration.denylist")
RELOAD_SECONDS = 1.0


class Denylist:
    """A set of ``jti`` values with expiry, optionally persisted."""

    def __init__(
        self, clock: Callable[[], float] = time.time, path: str | os.PathLike[str] | None = None
    ) -> None:
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()
        self._clock = clock
        self._path = Path(path) if path is not None else None
        self._next_check = 0.0
        self._stamp = 0
        if self._path is not None:
            self._load()

    def __contains__(self, jti: object) -> bool:
        if self._path is not None:
            self._maybe_reload()
        return jti in self._until

    def _maybe_reload(self) -> None:
        # Other workers sharing the file revoke too: look at its mtime at most once a
        # second (a clock read per request, a stat per second, a read when it changed).
        now = time.monotonic()
        if now < self._next_check:
            return
        self._next_check = now + RELOAD_SECONDS
        try:
            stamp = os.stat(self._path).st_mtime_ns if self._path is not None else 0
        except OSError:
            return
        if stamp != self._stamp:
            self._stamp = stamp
            self._load()

    def __len__(self) -> int:
        return len(self._until)

    def add(self, jti: str, exp: float) -> None:
        with self._lock:
            self._until[jti] = exp
            self._purge()
        if self._path is not None:
            self._store(jti, exp)

    def _purge(self) -> None:
        now = self._clock()
        for jti in [j for j, exp in self._until.items() if exp <= now]:
            del self._until[jti]

    def _connect(self) -> sqlite3.Connection:
        assert self._path is not None
        self._path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self._path, timeout=5)
        connection.execute("CREATE TABLE IF NOT EXISTS revoked (jti TEXT PRIMARY KEY, exp REAL)")
        return connection

    def _load(self) -> None:
        try:
            with closing(self._connect()) as connection:
                rows = connection.execute(
                    "SELECT jti, exp FROM revoked WHERE exp > ?", (self._clock(),)
                ).fetchall()
        except sqlite3.Error as exc:
            log.warning("cannot read the denylist %s: %s", self._path, exc)
            return
        self._until.update({str(jti): float(exp) for jti, exp in rows})

    def _store(self, jti: str, exp: float) -> None:
        try:
            with closing(self._connect()) as connection, connection:
                connection.execute("INSERT OR REPLACE INTO revoked VALUES (?, ?)", (jti, exp))
                connection.execute("DELETE FROM revoked WHERE exp <= ?", (self._clock(),))
        except sqlite3.Error as exc:
            # The revocation holds in this process; log so the operator sees it is not kept.
            log.error("cannot record a revocation in %s: %s", self._path, exc)
