"""Where tokens and registered clients live.

Access and refresh tokens are opaque strings; a request is authorized by looking its
bearer token up here. By default everything is kept in process memory, so a restart
logs everyone out. Set ``SAMPLE_TOKEN_DB`` to a file name to keep tokens and clients in
SQLite instead, so that they survive a restart.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from contextlib import closing
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass
class TokenRecord:
    """One issued token, access or refresh."""

    token: str
    kind: str  # "access" or "refresh"
    client_id: str
    user_id: str
    scope: str  # space-separated
    expires_at: int  # epoch seconds
    resource: str | None = None  # the RFC 8707 resource the client asked for, if any
    # For a refresh token: the access token issued together with it, so that a refresh
    # (or revoking the refresh token) can also delete that access token.
    access_token: str | None = None


class TokenStore(Protocol):
    def save_token(self, record: TokenRecord) -> None: ...

    def get_token(self, token: str) -> TokenRecord | None: ...

    def get_access_token(self, token: str) -> TokenRecord | None: ...

    def get_refresh_token(self, token: str) -> TokenRecord | None: ...

    def delete_token(self, token: str) -> None: ...

    def save_client(self, client: dict[str, Any]) -> None: ...

    def get_client(self, client_id: str) -> dict[str, Any] | None: ...


class MemoryTokenStore:
    """Tokens and clients in plain dicts: fast, and gone at the next restart."""

    def __init__(self) -> None:
        self._tokens: dict[str, TokenRecord] = {}
        self._clients: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def save_token(self, record: TokenRecord) -> None:
        with self._lock:
            self._tokens[record.token] = record

    def get_token(self, token: str) -> TokenRecord | None:
        with self._lock:
            record = self._tokens.get(token)
            if record is None:
                return None
            if record.expires_at <= time.time():
                del self._tokens[token]
                return None
            return record

    def get_access_token(self, token: str) -> TokenRecord | None:
        record = self.get_token(token)
        if record is None or record.kind != "access":
            return None
        return record

    def get_refresh_token(self, token: str) -> TokenRecord | None:
        record = self.get_token(token)
        if record is None or record.kind != "refresh":
            return None
        return record

    def delete_token(self, token: str) -> None:
        with self._lock:
            self._tokens.pop(token, None)

    def save_client(self, client: dict[str, Any]) -> None:
        with self._lock:
            self._clients[client["client_id"]] = client

    def get_client(self, client_id: str) -> dict[str, Any] | None:
        with self._lock:
            return self._clients.get(client_id)


class SqliteTokenStore:
    """Tokens and clients in an SQLite file, so they survive a restart."""

    def __init__(self, path: str) -> None:
        self.path = path
        with closing(self._connect()) as conn, conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS tokens ("
                " token TEXT PRIMARY KEY,"
                " kind TEXT NOT NULL,"
                " client_id TEXT NOT NULL,"
                " user_id TEXT NOT NULL,"
                " scope TEXT NOT NULL,"
                " resource TEXT,"
                " expires_at INTEGER NOT NULL,"
                " access_token TEXT)"
            )
            conn.execute(
                "CREATE TABLE IF NOT EXISTS clients ("
                " client_id TEXT PRIMARY KEY,"
                " data TEXT NOT NULL)"  # the registration document, as JSON
            )

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=10)
        conn.row_factory = sqlite3.Row
        return conn

    def save_token(self, record: TokenRecord) -> None:
        with closing(self._connect()) as conn, conn:
            conn.execute(
                "INSERT OR REPLACE INTO tokens"
                " (token, kind, client_id, user_id, scope, resource, expires_at, access_token)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.token,
                    record.kind,
                    record.client_id,
                    record.user_id,
                    record.scope,
                    record.resource,
                    record.expires_at,
                    record.access_token,
                ),
            )

    def get_token(self, token: str) -> TokenRecord | None:
        with closing(self._connect()) as conn, conn:
            row = conn.execute(
                "SELECT token, kind, client_id, user_id, scope, resource, expires_at, access_token"
                " FROM tokens WHERE token = ?",
                (token,),
            ).fetchone()
            if row is None:
                return None
            if row["expires_at"] <= time.time():
                conn.execute("DELETE FROM tokens WHERE token = ?", (token,))
                return None
        return TokenRecord(
            token=row["token"],
            kind=row["kind"],
            client_id=row["client_id"],
            user_id=row["user_id"],
            scope=row["scope"],
            expires_at=row["expires_at"],
            resource=row["resource"],
            access_token=row["access_token"],
        )

    def get_access_token(self, token: str) -> TokenRecord | None:
        record = self.get_token(token)
        if record is None or record.kind != "access":
            return None
        return record

    def get_refresh_token(self, token: str) -> TokenRecord | None:
        record = self.get_token(token)
        if record is None or record.kind != "refresh":
            return None
        return record

    def delete_token(self, token: str) -> None:
        with closing(self._connect()) as conn, conn:
            conn.execute("DELETE FROM tokens WHERE token = ?", (token,))

    def save_client(self, client: dict[str, Any]) -> None:
        with closing(self._connect()) as conn, conn:
            conn.execute(
                "INSERT OR REPLACE INTO clients (client_id, data) VALUES (?, ?)",
                (client["client_id"], json.dumps(client)),
            )

    def get_client(self, client_id: str) -> dict[str, Any] | None:
        with closing(self._connect()) as conn:
            cursor = conn.execute("SELECT data FROM clients WHERE client_id = ?", (client_id,))
            row = cursor.fetchone()
        if row is None:
            return None
        client: dict[str, Any] = json.loads(row["data"])
        return client


def get_store() -> TokenStore:
    """SQLite when SAMPLE_TOKEN_DB names a file, else memory."""
    db_path = os.environ.get("SAMPLE_TOKEN_DB")
    if db_path:
        return SqliteTokenStore(db_path)
    return MemoryTokenStore()
