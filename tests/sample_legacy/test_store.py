"""The token store on its own: both implementations behave alike."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sample_legacy.store import MemoryTokenStore, SqliteTokenStore, TokenRecord, TokenStore


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> TokenStore:
    if request.param == "memory":
        return MemoryTokenStore()
    return SqliteTokenStore(str(tmp_path / "tokens.sqlite3"))


def record(token: str, kind: str = "access", expires_in: int = 3600) -> TokenRecord:
    return TokenRecord(
        token=token,
        kind=kind,
        client_id="client-1",
        user_id="alice",
        scope="mcp:tools profile",
        expires_at=int(time.time()) + expires_in,
        resource="http://127.0.0.1:8000/mcp",
    )


def test_saved_access_token_is_found(store: TokenStore) -> None:
    """A saved access token is found again with every field intact."""
    saved = record("at-1")
    store.save_token(saved)
    assert store.get_access_token("at-1") == saved


def test_expired_token_is_absent(store: TokenStore) -> None:
    """An expired token is treated as absent on lookup."""
    store.save_token(record("at-old", expires_in=-1))
    assert store.get_access_token("at-old") is None


def test_refresh_token_is_not_an_access_token(store: TokenStore) -> None:
    """A refresh token is not found by the access-token lookup."""
    store.save_token(record("rt-1", kind="refresh"))
    assert store.get_access_token("rt-1") is None


def test_deleted_token_is_absent(store: TokenStore) -> None:
    """A deleted token is not found any more."""
    store.save_token(record("at-2"))
    store.delete_token("at-2")
    assert store.get_token("at-2") is None


def test_saved_client_is_found(store: TokenStore) -> None:
    """A saved client registration is found by its client_id."""
    client = {"client_id": "client-1", "redirect_uris": ["http://127.0.0.1:1/cb"]}
    store.save_client(client)
    assert store.get_client("client-1") == client


def test_sqlite_store_is_shared_between_instances(tmp_path: Path) -> None:
    """Two SQLite stores on one file (as before and after a restart) see the same tokens."""
    path = str(tmp_path / "tokens.sqlite3")
    SqliteTokenStore(path).save_token(record("at-3"))
    assert SqliteTokenStore(path).get_access_token("at-3") is not None
