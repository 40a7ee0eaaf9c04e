"""The MCP endpoint at /mcp (official MCP SDK, streamable HTTP) behind the bearer gate."""

from __future__ import annotations

import httpx

from tests.support.oauth_flow import McpSession, OAuthFlow, TokenSet, send_initialize


def fresh_tokens(flow: OAuthFlow) -> TokenSet:
    _, tokens = flow.obtain_tokens()
    return tokens


def test_initialize_answers_with_server_info(
    flow: OAuthFlow, http: httpx.Client, mcp_url: str
) -> None:
    """initialize with a valid token returns the server's name and a protocol version."""
    with McpSession(http, mcp_url, fresh_tokens(flow).access_token) as session:
        result = session.initialize()
    assert result["serverInfo"]["name"] == "sample-legacy"
    assert result["protocolVersion"]


def test_initialize_opens_a_session(flow: OAuthFlow, http: httpx.Client, mcp_url: str) -> None:
    """The server answers initialize with an Mcp-Session-Id (stateful streamable HTTP)."""
    with McpSession(http, mcp_url, fresh_tokens(flow).access_token) as session:
        session.initialize()
        assert session.session_id


def test_tools_list_has_whoami(flow: OAuthFlow, http: httpx.Client, mcp_url: str) -> None:
    """tools/list names the whoami tool."""
    with McpSession(http, mcp_url, fresh_tokens(flow).access_token) as session:
        session.initialize()
        names = [tool["name"] for tool in session.list_tools()]
    assert "whoami" in names


def test_whoami_returns_the_demo_user(flow: OAuthFlow, http: httpx.Client, mcp_url: str) -> None:
    """tools/call whoami returns the user the token was issued to: the demo user alice."""
    with McpSession(http, mcp_url, fresh_tokens(flow).access_token) as session:
        session.initialize()
        assert session.whoami() == "alice"


def test_post_mcp_is_not_redirected(flow: OAuthFlow, http: httpx.Client, mcp_url: str) -> None:
    """POST /mcp answers directly: no trailing-slash redirect."""
    response = send_initialize(http, mcp_url, fresh_tokens(flow).access_token)
    assert response.status_code == 200


def test_no_token_gets_401_with_bearer_challenge(http: httpx.Client, mcp_url: str) -> None:
    """Without a token /mcp answers 401 with a WWW-Authenticate Bearer challenge."""
    response = send_initialize(http, mcp_url, None)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer ")


def test_empty_bearer_gets_401(http: httpx.Client, mcp_url: str) -> None:
    """An Authorization header of just "Bearer" is answered like no token at all."""
    response = http.post(
        mcp_url,
        json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
        headers={"Authorization": "Bearer", "Accept": "application/json, text/event-stream"},
    )
    assert response.status_code == 401


def test_bad_token_gets_invalid_token_challenge(http: httpx.Client, mcp_url: str) -> None:
    """An unknown token gets 401 with error="invalid_token" in the challenge."""
    response = send_initialize(http, mcp_url, "not-a-real-token")
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'error="invalid_token"' in challenge


def test_challenge_has_no_resource_metadata(http: httpx.Client, mcp_url: str) -> None:
    """The 401 challenge carries no resource_metadata parameter (a legacy defect)."""
    response = send_initialize(http, mcp_url, "not-a-real-token")
    assert "resource_metadata" not in response.headers["www-authenticate"]


def test_jwt_shaped_garbage_is_refused(http: httpx.Client, mcp_url: str) -> None:
    """A token shaped like a JWT but unknown to the store gets 401."""
    response = send_initialize(http, mcp_url, "aaaa.bbbb.cccc")
    assert response.status_code == 401


def test_refresh_token_is_not_an_access_token(
    flow: OAuthFlow, http: httpx.Client, mcp_url: str
) -> None:
    """A refresh token presented as a bearer token gets 401."""
    tokens = fresh_tokens(flow)
    assert tokens.refresh_token is not None
    assert send_initialize(http, mcp_url, tokens.refresh_token).status_code == 401


def test_token_in_query_string_is_refused(
    flow: OAuthFlow, http: httpx.Client, mcp_url: str
) -> None:
    """An access token in ?access_token= instead of the header gets 401."""
    tokens = fresh_tokens(flow)
    response = http.post(
        mcp_url,
        params={"access_token": tokens.access_token},
        json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
        headers={"Accept": "application/json, text/event-stream"},
    )
    assert response.status_code == 401


def test_oauth_endpoints_need_no_bearer_token(http: httpx.Client, mcp_url: str) -> None:
    """The gate covers /mcp only: metadata answers without a token."""
    base_url = mcp_url.removesuffix("/mcp")
    response = http.get(base_url + "/.well-known/oauth-authorization-server")
    assert response.status_code == 200
