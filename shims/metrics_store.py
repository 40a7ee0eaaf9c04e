"""The metrics file: its schema, the one transaction a flush writes, and its reader.

Several processes and replicas may write one file (WAL mode, busy timeout): rows carry an
instance id (default `hostname:pid`) and are summed on read, so nothing is overwritten.
`read_metrics()` opens the file read-only, even while servers write it, and answers what
`migrate status` asks: counts over the last hour, the last day and in total, opaque usage per
client, the last opaque mint and acceptance, and which instances report.

The store (schema 1, in `PRAGMA user_version`; `PRAGMA application_id` marks the file as ours):

- `validations(minute, instance, kind, outcome, reason, client_id, count, last_seen)`
- `mints(minute, instance, kind, client_id, count, last_seen)`
- `instances(instance, started, last_flush)`

`minute` is Unix time // 60; rows older than two days are merged into one row per key with
minute -1, which keeps the file small over a long hybrid period and still counts in totals.
`client_id` is "" when unknown. `count` is summed across rows, `last_seen` is the maximum.

Copied into servers with the other runtime modules: standard library only.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable, Mapping
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

__all__ = [
    "ClientUsage",
    "InstanceInfo",
    "Kind",
    "MetricsReport",
    "MetricsUnavailable",
    "Outcome",
    "read_metrics",
    "write_deltas",
]

Kind = Literal["jwt", "opaque"]
Outcome = Literal["accepted", "rejected"]

KINDS: Final[tuple[Kind, ...]] = ("jwt", "opaque")
OUTCOMES: Final[tuple[Outcome, ...]] = ("accepted", "rejected")

SCHEMA_VERSION: Final = 1
APPLICATION_ID: Final = 0x6F6D6574  # "omet"
# Long enough to ride out another process's flush, short enough that close() at exit returns.
BUSY_TIMEOUT_SECONDS: Final = 5.0
HOUR: Final = 3600.0
DAY: Final = 86400.0
COMPACTED_MINUTE: Final = -1
# Beyond the longest window read_metrics() reports, so merging these rows changes no window.
COMPACT_AFTER_MINUTES: Final = 2 * 24 * 60

# One row each, as the flush writes them: the minute first, the count and last time last.
ValidationRow = tuple[int, Kind, Outcome, str, str | None, int, float]
MintRow = tuple[int, Kind, str | None, int, float]


class MetricsUnavailable(Exception):
    """The metrics file is missing, unreadable, or not a metrics store."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = Path(path)
        super().__init__(f"metrics file {self.path} {problem}")


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


def write_deltas(
    path: Path,
    *,
    instance: str,
    started: float,
    validations: Iterable[ValidationRow],
    mints: Iterable[MintRow],
    now: float,
    compact: bool,
) -> None:
    """Add one flush's counts to the file in one transaction, creating the store if empty.

    With `compact`, rows older than two days are merged into minute -1 in the same
    transaction. Refuses (MetricsUnavailable) a file that is someone else's database or
    another schema; any SQLite error propagates, and nothing of the flush is written.
    """
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
            connection.executemany(
                _UPSERT_VALIDATION,
                (
                    (m, instance, kind, outcome, reason, client_id or "", count, last_seen)
                    for m, kind, outcome, reason, client_id, count, last_seen in validations
                ),
            )
            connection.executemany(
                _UPSERT_MINT,
                (
                    (m, instance, kind, client_id or "", count, last_seen)
                    for m, kind, client_id, count, last_seen in mints
                ),
            )
            connection.execute(_UPSERT_INSTANCE, (instance, started, now))
            if compact:
                cutoff = int(now // 60) - COMPACT_AFTER_MINUTES
                for statement in _COMPACT:
                    connection.execute(statement, (cutoff,))
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise


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
