"""What survives a restart: the SQLite store keeps tokens and clients, the memory store does not."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.sample_legacy.launch import sample_server
from tests.support.oauth_flow import OAuthFlow, send_initialize, whoami_with
from tests.support.server_process import ServerProcess


@pytest.fixture
def sqlite_server(tmp_path: Path) -> Iterator[ServerProcess]:
    env = {"SAMPLE_TOKEN_DB": str(tmp_path / "tokens.sqlite3")}
    with sample_server(tmp_path, env) as server:
        yield server


@pytest.fixture
def memory_server(tmp_path: Path) -> Iterator[ServerProcess]:
    with sample_server(tmp_path) as server:
        yield server


def test_sqlite_access_token_survives_restart(
    sqlite_server: ServerProcess, http: httpx.Client
) -> None:
    """With SAMPLE_TOKEN_DB set, an access token issued before a restart still works after it."""
    _, tokens = OAuthFlow(sqlite_server.base_url, http).obtain_tokens()
    sqlite_server.restart()
    assert whoami_with(http, sqlite_server.base_url + "/mcp", tokens.access_token) == "alice"


def test_sqlite_refresh_works_after_restart(
    sqlite_server: ServerProcess, http: httpx.Client
) -> None:
    """With SAMPLE_TOKEN_DB set, the client and its refresh token survive a restart."""
    client, tokens = OAuthFlow(sqlite_server.base_url, http).obtain_tokens()
    assert tokens.refresh_token is not None
    sqlite_server.restart()
    refreshed = OAuthFlow(sqlite_server.base_url, http).refresh(client, tokens.refresh_token)
    assert whoami_with(http, sqlite_server.base_url + "/mcp", refreshed.access_token) == "alice"


def test_memory_access_token_is_lost_on_restart(
    memory_server: ServerProcess, http: httpx.Client
) -> None:
    """Without SAMPLE_TOKEN_DB, an access token issued before a restart gets 401 after it."""
    _, tokens = OAuthFlow(memory_server.base_url, http).obtain_tokens()
    mcp_url = memory_server.base_url + "/mcp"
    assert send_initialize(http, mcp_url, tokens.access_token).status_code == 200
    memory_server.restart()
    assert send_initialize(http, mcp_url, tokens.access_token).status_code == 401
