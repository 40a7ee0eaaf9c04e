"""The official MCP Python SDK client against the sample server."""

from __future__ import annotations

import pytest

from tests.support.oauth_flow import OAuthFlow, looks_like_jwt
from tests.support.sdk_client import SdkRun, connect_with_oauth, connect_with_token
from tests.support.server_process import ServerProcess


@pytest.fixture(scope="module")
def oauth_run(server: ServerProcess) -> SdkRun:
    """One run of the SDK's own OAuth flow, shared by the tests that look at its outcome."""
    return connect_with_oauth(server.base_url + "/mcp")


def test_sdk_oauth_flow_reaches_whoami(oauth_run: SdkRun) -> None:
    """The SDK discovers, registers, authorizes with PKCE, gets a token and calls whoami."""
    assert oauth_run.whoami == "alice"


def test_sdk_lists_whoami(oauth_run: SdkRun) -> None:
    """list_tools through the SDK names whoami."""
    assert "whoami" in oauth_run.tool_names


def test_sdk_registered_dynamically(oauth_run: SdkRun) -> None:
    """The SDK registered itself (RFC 7591) and got a client secret for client_secret_basic."""
    assert oauth_run.client_info is not None
    assert oauth_run.client_info.client_id
    assert oauth_run.client_info.client_secret


def test_sdk_used_pkce_s256(oauth_run: SdkRun) -> None:
    """The authorization URL the SDK sent the browser to asked for PKCE S256."""
    assert len(oauth_run.authorization_urls) == 1
    assert "code_challenge_method=S256" in oauth_run.authorization_urls[0]


def test_sdk_stored_an_opaque_token(oauth_run: SdkRun) -> None:
    """The access token the SDK obtained and stored is opaque, not a JWT."""
    assert oauth_run.access_token is not None
    assert not looks_like_jwt(oauth_run.access_token)


def test_sdk_with_pre_obtained_token(flow: OAuthFlow, mcp_url: str) -> None:
    """The SDK client connecting with a token obtained beforehand calls whoami as alice."""
    _, tokens = flow.obtain_tokens()
    run = connect_with_token(mcp_url, tokens.access_token)
    assert run.whoami == "alice"


def test_sdk_stored_token_works_in_a_new_connection(oauth_run: SdkRun, mcp_url: str) -> None:
    """The token the SDK stored keeps working when given to a new SDK connection."""
    assert oauth_run.access_token is not None
    run = connect_with_token(mcp_url, oauth_run.access_token)
    assert run.whoami == "alice"
