"""with_dependency: a request-scoped resource opened and closed around one lookup."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from shims.resources import out_of_request, request_lookup, with_dependency


def _database(tmp_path: Path) -> str:
    path = str(tmp_path / "tokens.db")
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE tokens (token TEXT PRIMARY KEY, user_id TEXT)")
        conn.execute("INSERT INTO tokens VALUES ('opaque-1', 'ines')")
    conn.close()
    return path


def test_generator_dependency_is_opened_each_time_and_closed(tmp_path: Path) -> None:
    """Each use gets a fresh connection, closed afterwards (the code after ``yield`` ran),
    so a later use never meets the connection an earlier one closed."""
    path = _database(tmp_path)
    opened: list[sqlite3.Connection] = []

    def get_db() -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(path)
        opened.append(conn)
        try:
            yield conn
        finally:
            conn.close()

    query = "SELECT user_id FROM tokens WHERE token = ?"

    def lookup(token: str) -> object:
        return with_dependency(get_db, lambda db: db.execute(query, (token,)).fetchone())

    assert lookup("opaque-1") == ("ines",)
    assert lookup("opaque-1") == ("ines",)
    assert lookup("unknown") is None
    assert len({id(c) for c in opened}) == 3
    for conn in opened:
        with pytest.raises(sqlite3.ProgrammingError):
            conn.execute("SELECT 1")


def test_lookup_error_still_closes_and_propagates() -> None:
    """A lookup that raises (``TOKENS[token]``) closes the resource and raises the same."""
    closed: list[bool] = []

    def get_store() -> Iterator[dict[str, str]]:
        try:
            yield {}
        finally:
            closed.append(True)

    with pytest.raises(KeyError):
        with_dependency(get_store, lambda store: store["missing"])
    assert closed == [True]


def test_plain_function_dependency_is_called() -> None:
    """A dependency that returns its value (no ``yield``) is simply called."""
    assert with_dependency(lambda: {"t": 1}, lambda store: store.get("t")) == 1


def test_awaited_lookup_keeps_the_resource_open_until_it_completes() -> None:
    """An async lookup over a sync generator, and an async-generator dependency, close the
    resource only after the awaited lookup finished."""
    events: list[str] = []

    def sync_dep() -> Iterator[str]:
        events.append("open")
        yield "conn"
        events.append("close")

    async def async_dep() -> AsyncIterator[str]:
        events.append("aopen")
        yield "aconn"
        events.append("aclose")

    async def fetch(conn: str) -> str:
        events.append(f"fetch {conn}")
        return conn

    assert asyncio.run(with_dependency(sync_dep, fetch)) == "conn"
    assert asyncio.run(with_dependency(async_dep, fetch)) == "aconn"
    assert events == ["open", "fetch conn", "close", "aopen", "fetch aconn", "aclose"]


def test_annotated_alias_opens_the_dependency_it_names() -> None:
    """``Db = Annotated[Conn, Depends(get_db)]`` given as the dependency opens ``get_db``."""
    from typing import Annotated

    from fastapi import Depends

    events: list[str] = []

    def get_db() -> Iterator[str]:
        events.append("open")
        yield "conn"
        events.append("close")

    alias = Annotated[str, Depends(get_db)]
    assert with_dependency(alias, lambda db: db.upper()) == "CONN"
    assert events == ["open", "close"]


def test_request_lookup_reads_the_requests_resource_and_opens_its_own_outside() -> None:
    """In the request the lookup reads the request's connection (no second one opened);
    the form the gate keeps for introspection opens a fresh one each time."""
    opened: list[str] = []

    def get_db() -> Iterator[str]:
        opened.append("fresh")
        yield "fresh-conn"

    lookup = request_lookup(lambda t, db: (t, db), db=("request-conn", get_db))
    assert lookup("tok") == ("tok", "request-conn")
    assert opened == []
    kept = out_of_request(lookup)
    assert kept("tok") == ("tok", "fresh-conn")
    assert opened == ["fresh"]


def test_a_plain_lookup_is_kept_as_it_is() -> None:
    """A lookup that reads no request-scoped resource is kept unchanged."""

    def plain(t: str) -> str:
        return t

    assert out_of_request(plain) is plain
