"""The jti denylist on a real SQLite file: reloads, locking and cost (findings 7, 10, 11)."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from shims import denylist as module
from shims.denylist import Denylist

from .helpers import Clock

# Far enough that no run of the suite outlives it (the constant is computed at import).
FAR = time.time() + 10 * 365 * 86400


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "denylist.sqlite3"


def _due(denylist: Denylist) -> Denylist:
    denylist._next_check = 0.0  # the once-a-second pause, skipped
    return denylist


class LockCheckingDict(dict[str, float]):
    """A dict that fails any change made while its owner's lock is free."""

    def __init__(self, lock: Any, *args: Any) -> None:
        super().__init__(*args)
        self.lock = lock
        self.updated_with: list[int] = []

    def _check(self) -> None:
        assert self.lock.locked(), "the denylist dict changed without its lock"

    def __setitem__(self, key: str, value: float) -> None:
        self._check()
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self._check()
        super().__delitem__(key)

    def update(self, *args: Any, **kw: Any) -> None:
        self._check()
        items = dict(*args, **kw)
        super().update(items)
        self.updated_with.append(len(items))


def test_finding_10_a_reload_that_failed_is_retried(path: Path) -> None:
    """A reload that fails (the file is locked) is tried again at the next check."""
    reader, writer = Denylist(path=path), Denylist(path=path)
    writer.add("jti-revoked", FAR)
    locker = sqlite3.connect(path, timeout=0, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        assert "jti-revoked" not in _due(reader)
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert "jti-revoked" in _due(reader)


def test_finding_10_two_writes_in_one_mtime_tick_are_both_seen(path: Path) -> None:
    """A revocation whose write left the file's mtime unchanged is still seen."""
    reader, writer = Denylist(path=path), Denylist(path=path)
    writer.add("jti-1", FAR)
    tick = os.stat(path).st_mtime_ns
    assert "jti-1" in _due(reader)
    writer.add("jti-2", FAR)
    os.utime(path, ns=(tick, tick))  # a kernel that stamps mtime once per jiffy
    assert "jti-2" in _due(reader)


def test_finding_11_every_change_of_the_dict_holds_the_lock(path: Path) -> None:
    """Reloading, adding and purging change the in-memory list only under its lock."""
    clock = Clock()
    worker, other = Denylist(clock=clock, path=path), Denylist(clock=clock, path=path)
    worker._until = LockCheckingDict(worker._lock, worker._until)
    other.add("theirs", clock.now + 10)
    assert "theirs" in _due(worker)
    worker._load()
    worker.add("mine", clock.now + 10)
    clock.advance(module.PURGE_SECONDS + 20)
    worker.add("later", clock.now + 10)  # a purge is due: it runs under the lock too
    assert "theirs" not in worker._until


def test_finding_7_a_reload_reads_only_the_new_revocations(path: Path) -> None:
    """After the first load, a reload brings in only the rows written since."""
    writer = Denylist(path=path)
    for i in range(50):
        writer.add(f"old-{i}", FAR)
    reader = Denylist(path=path)
    reader._until = LockCheckingDict(reader._lock, reader._until)
    writer.add("new", FAR)
    assert "new" in _due(reader)
    assert reader._until.updated_with == [1]


def test_finding_7_add_purges_now_and_then_not_every_time(path: Path) -> None:
    """An add does not scan for expired entries; a purge runs once per PURGE_SECONDS."""
    clock = Clock()
    denylist = Denylist(clock=clock, path=path)
    denylist.add("short", clock.now + 1)
    clock.advance(2)
    denylist.add("second", clock.now + 100)
    assert len(denylist) == 2
    clock.advance(module.PURGE_SECONDS)
    denylist.add("third", clock.now + 100)
    assert len(denylist) == 2  # "short" is gone
    rows = sqlite3.connect(path).execute("SELECT jti FROM revoked ORDER BY jti").fetchall()
    assert rows == [("second",), ("third",)]


def test_finding_7_the_purge_uses_an_index_on_exp(path: Path) -> None:
    """The table has an index on exp, so the purge does not scan every revocation."""
    Denylist(path=path).add("jti-1", FAR)
    plan = sqlite3.connect(path).execute(
        "EXPLAIN QUERY PLAN DELETE FROM revoked WHERE exp <= ?", (time.time(),)
    )
    assert any("INDEX" in str(row[-1]) for row in plan.fetchall())


def test_revocations_survive_a_restart(path: Path) -> None:
    """A new denylist over the same file knows what the previous one revoked."""
    Denylist(path=path).add("jti-1", FAR)
    assert "jti-1" in Denylist(path=path)


def test_an_entry_lives_until_its_exp(path: Path) -> None:
    """An entry is listed until its exp and dropped by the first purge after it."""
    clock = Clock()
    denylist = Denylist(clock=clock, path=path)
    denylist.add("jti-1", clock.now + module.PURGE_SECONDS * 2)
    clock.advance(module.PURGE_SECONDS + 1)
    denylist.add("jti-2", clock.now + 10)
    assert "jti-1" in denylist
    assert "jti-1" in Denylist(clock=clock, path=path)


def test_a_file_from_the_previous_version_is_read(path: Path) -> None:
    """A denylist file written before the rowid change (no index) is read as it is."""
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE revoked (jti TEXT PRIMARY KEY, exp REAL)")
        connection.execute("INSERT INTO revoked VALUES ('jti-old', ?)", (FAR,))
    denylist = Denylist(path=path)
    assert "jti-old" in denylist
    Denylist(path=path).add("jti-new", FAR)
    assert "jti-new" in _due(denylist)


def test_a_purge_drops_only_what_expired_even_after_an_extension() -> None:
    """An entry revoked again with a later exp outlives its first exp."""
    clock = Clock()
    denylist = Denylist(clock=clock)
    denylist.add("extended", clock.now + 10)
    denylist.add("extended", clock.now + module.PURGE_SECONDS * 3)
    denylist.add("brief", clock.now + 10)
    clock.advance(module.PURGE_SECONDS + 1)
    denylist.add("trigger", clock.now + 100)  # a purge is due
    assert "extended" in denylist and "trigger" in denylist
    assert "brief" not in denylist
    assert len(denylist) == 2


def test_a_purge_takes_a_bounded_batch_and_the_next_add_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past PURGE_BATCH expired entries a purge stops (no stall under the lock); the
    backlog goes at the following adds, not a minute later."""
    monkeypatch.setattr(module, "PURGE_BATCH", 3)
    clock = Clock()
    denylist = Denylist(clock=clock)
    for i in range(7):
        denylist.add(f"old-{i}", clock.now + 1)
    clock.advance(module.PURGE_SECONDS + 1)
    denylist.add("a", clock.now + 100)
    assert len(denylist) == 8 - 3
    denylist.add("b", clock.now + 100)
    denylist.add("c", clock.now + 100)
    assert len(denylist) == 3
    assert all(f"old-{i}" not in denylist for i in range(7))


def test_entries_loaded_from_the_file_are_purged_too(path: Path) -> None:
    """What a worker reads from the file leaves its memory when it expires."""
    clock = Clock()
    Denylist(clock=clock, path=path).add("theirs", clock.now + 5)
    reader = Denylist(clock=clock, path=path)
    assert len(reader) == 1
    clock.advance(module.PURGE_SECONDS + 1)
    reader.add("mine", clock.now + 100)
    assert "theirs" not in reader._until


def test_reading_back_what_is_held_adds_nothing_to_the_heap(path: Path) -> None:
    """A worker reading its own rows back (and a full reload of what it holds) pushes no
    pair: the heap of expiries grows with changes only, not with every read."""
    clock = Clock()
    worker = Denylist(clock=clock, path=path)
    for i in range(20):
        worker.add(f"mine-{i}", clock.now + 100)
    before = len(worker._expiries)
    _due(worker)._load()
    worker._hold([(f"mine-{i}", clock.now + 100) for i in range(20)])
    assert len(worker._expiries) == before == 20


def test_a_worker_that_only_reads_drops_expired_entries(path: Path) -> None:
    """Most workers never revoke: their reloads purge memory too."""
    clock = Clock()
    writer, reader = Denylist(clock=clock, path=path), Denylist(clock=clock, path=path)
    writer.add("brief", clock.now + 5)
    assert "brief" in _due(reader)
    clock.advance(module.PURGE_SECONDS + 1)
    writer.add("later", clock.now + 100)
    assert "later" in _due(reader)
    assert "brief" not in reader._until


def test_a_reload_never_shortens_a_revocation_held_in_memory(path: Path) -> None:
    """The longest exp any source gave stands: a row read with an earlier exp (an own
    write that failed, another worker's shorter one) does not cut it short."""
    clock = Clock()
    worker = Denylist(clock=clock, path=path)
    worker._hold([("jti-1", clock.now + 500)])
    Denylist(clock=clock, path=path).add("jti-1", clock.now + 50)
    _due(worker)._load()
    clock.advance(module.PURGE_SECONDS + 60)
    worker._purge_due()
    assert "jti-1" in worker
