"""Fixtures that run the real sample_legacy server for the tests."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.sample_legacy.launch import sample_server
from tests.support.oauth_flow import OAuthFlow
from tests.support.server_process import ServerProcess


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server with the in-memory store, shared by the tests that do not restart it."""
    with sample_server(tmp_path_factory.mktemp("sample_legacy")) as running:
        yield running


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=15.0) as client:
        yield client


@pytest.fixture
def flow(server: ServerProcess, http: httpx.Client) -> OAuthFlow:
    return OAuthFlow(server.base_url, http)


@pytest.fixture
def mcp_url(server: ServerProcess) -> str:
    return server.base_url + "/mcp"
