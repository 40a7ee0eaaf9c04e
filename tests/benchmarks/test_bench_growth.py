"""The growth benchmark's helpers: how entries are made, how the table is laid out."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from benchmarks.bench_growth import (
    Table,
    cache_entries,
    denylist_rows,
    fill_file,
    rotation,
    size_label,
)
from shims.denylist import Denylist
from shims.verifier import VerifiedToken

MODEL = VerifiedToken(
    token="header.payload.signature",
    claims={"sub": "user", "client_id": "client"},
    kid="kid-1",
    exp=2e9,
    jti="real-jti",
    client_id="client",
    subject="user",
)


def test_cache_entries_are_distinct_copies_of_the_model() -> None:
    """Each entry has its own token and jti; claims, key and expiry are the model's."""
    entries = cache_entries(MODEL, 3, "a")
    assert len({e.token for e in entries}) == len({e.jti for e in entries}) == 3
    assert all((e.claims, e.kid, e.exp) == (MODEL.claims, MODEL.kid, MODEL.exp) for e in entries)


def test_cache_entries_of_two_prefixes_never_share_a_token() -> None:
    """Two sets made with different prefixes can be inserted in turn as new tokens."""
    first, second = cache_entries(MODEL, 50, "a"), cache_entries(MODEL, 50, "b")
    assert not {e.token for e in first} & {e.token for e in second}


def test_rotation_takes_the_first_set_then_the_second() -> None:
    """A rotation longer than the first set goes on into the second, in order."""
    first, second = cache_entries(MODEL, 4, "a"), cache_entries(MODEL, 4, "b")
    assert rotation(first, second, 6) == [*first, *second[:2]]


def test_rotation_refuses_more_tokens_than_both_sets_hold() -> None:
    """Asking for more distinct tokens than there are raises instead of repeating some."""
    first = cache_entries(MODEL, 2, "a")
    with pytest.raises(ValueError, match="5 tokens"):
        rotation(first, first, 5)


def test_denylist_rows_number_their_rowids_from_start_plus_one() -> None:
    """Rows carry rowids in order, as Denylist.add writes them, with distinct jtis."""
    rows = list(denylist_rows(3, 5.0, start=10))
    assert [row[0] for row in rows] == [11, 12, 13]
    assert len({row[1] for row in rows}) == 3


def test_fill_file_writes_rows_a_denylist_loads(tmp_path: Path) -> None:
    """A file filled in one transaction is read by Denylist(path=...) entry for entry."""
    path = tmp_path / "denylist.sqlite3"
    fill_file(path, 25, time.time() + 3600)
    denylist = Denylist(path=path)
    assert len(denylist) == 25
    assert f"{7:032x}" in denylist


def test_size_label_writes_thousands_and_millions() -> None:
    """10_000 is 10k, 1_000_000 is 1M; other numbers stay as they are."""
    assert [size_label(n) for n in (10_000, 100_000, 1_000_000, 1_500)] == [
        "10k",
        "100k",
        "1M",
        "1500",
    ]


def test_table_puts_each_size_in_its_column_and_the_baseline_last() -> None:
    """A row gets one cell per size, right-aligned, '-' where a size has none."""
    table = Table("title")
    table.add(10_000, "revoke", "1.0 us", "74 ms")
    table.add(1_000_000, "revoke", "2.0 us")
    table.add(10_000, "check", "0.3 us")
    assert table.lines() == [
        "title",
        "             10k      1M  before",
        "  revoke  1.0 us  2.0 us  74 ms",
        "  check   0.3 us       -",
    ]


def test_table_without_rows_is_its_title() -> None:
    """A part that was skipped prints only its title (which says why)."""
    assert Table("Redis: skipped").lines() == ["Redis: skipped"]
