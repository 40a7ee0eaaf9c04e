"""Refresh-token rotation and RFC 7009 revocation, seen from the token endpoint and from /mcp."""

from __future__ import annotations

import httpx

from tests.support.oauth_flow import OAuthFlow, looks_like_jwt, send_initialize, whoami_with


def test_refresh_issues_a_new_pair(flow: OAuthFlow) -> None:
    """A refresh gives a new access token and a new refresh token."""
    client, tokens = flow.obtain_tokens()
    assert tokens.refresh_token is not None
    refreshed = flow.refresh(client, tokens.refresh_token)
    assert refreshed.access_token != tokens.access_token
    assert refreshed.refresh_token not in (None, tokens.refresh_token)


def test_refreshed_access_token_is_opaque(flow: OAuthFlow) -> None:
    """The access token from a refresh is opaque, lives 3600 s and keeps the granted scope."""
    client, tokens = flow.obtain_tokens(scope="mcp:tools")
    assert tokens.refresh_token is not None
    refreshed = flow.refresh(client, tokens.refresh_token)
    assert not looks_like_jwt(refreshed.access_token)
    assert refreshed.expires_in == 3600
    assert refreshed.scope == "mcp:tools"


def test_refreshed_access_token_works_at_mcp(
    flow: OAuthFlow, http: httpx.Client, mcp_url: str
) -> None:
    """The access token from a refresh is accepted at /mcp for the same user."""
    client, tokens = flow.obtain_tokens()
    assert tokens.refresh_token is not None
    refreshed = flow.refresh(client, tokens.refresh_token)
    assert whoami_with(http, mcp_url, refreshed.access_token) == "alice"


def test_old_refresh_token_is_refused_after_rotation(flow: OAuthFlow) -> None:
    """A refresh token is single use: spending it again gets 400 invalid_grant."""
    client, tokens = flow.obtain_tokens()
    assert tokens.refresh_token is not None
    flow.refresh(client, tokens.refresh_token)
    response = flow.refresh_response(client, tokens.refresh_token)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_old_access_token_is_refused_after_rotation(
    flow: OAuthFlow, http: httpx.Client, mcp_url: str
) -> None:
    """A refresh deletes the access token issued with the old refresh token: /mcp answers 401."""
    client, tokens = flow.obtain_tokens()
    assert tokens.refresh_token is not None
    assert send_initialize(http, mcp_url, tokens.access_token).status_code == 200
    flow.refresh(client, tokens.refresh_token)
    assert send_initialize(http, mcp_url, tokens.access_token).status_code == 401


def test_refresh_token_of_another_client_is_refused(flow: OAuthFlow) -> None:
    """A refresh token can only be spent by the client it was issued to."""
    _, tokens = flow.obtain_tokens()
    assert tokens.refresh_token is not None
    other = flow.register_client()
    response = flow.refresh_response(other, tokens.refresh_token)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_made_up_refresh_token_is_refused(flow: OAuthFlow) -> None:
    """An unknown refresh token gets 400 invalid_grant."""
    client = flow.register_client()
    response = flow.refresh_response(client, "not-a-refresh-token")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_access_token_is_not_a_refresh_token(flow: OAuthFlow) -> None:
    """An access token presented as a refresh token gets 400 invalid_grant."""
    client, tokens = flow.obtain_tokens()
    response = flow.refresh_response(client, tokens.access_token)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_revoked_access_token_is_refused_at_mcp(
    flow: OAuthFlow, http: httpx.Client, mcp_url: str
) -> None:
    """After /revoke of the access token, /mcp answers 401 for it."""
    client, tokens = flow.obtain_tokens()
    assert send_initialize(http, mcp_url, tokens.access_token).status_code == 200
    flow.revoke(client, tokens.access_token, "access_token")
    assert send_initialize(http, mcp_url, tokens.access_token).status_code == 401


def test_revoked_refresh_token_is_refused(flow: OAuthFlow) -> None:
    """After /revoke of the refresh token, the refresh grant refuses it."""
    client, tokens = flow.obtain_tokens()
    assert tokens.refresh_token is not None
    flow.revoke(client, tokens.refresh_token, "refresh_token")
    response = flow.refresh_response(client, tokens.refresh_token)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_revoking_refresh_token_also_revokes_its_access_token(
    flow: OAuthFlow, http: httpx.Client, mcp_url: str
) -> None:
    """Revoking a refresh token also ends the access token issued with it."""
    client, tokens = flow.obtain_tokens()
    assert tokens.refresh_token is not None
    flow.revoke(client, tokens.refresh_token)
    assert send_initialize(http, mcp_url, tokens.access_token).status_code == 401


def test_revoke_of_unknown_token_succeeds(flow: OAuthFlow) -> None:
    """Revoking an unknown token answers 200, as RFC 7009 requires."""
    client = flow.register_client()
    assert flow.revoke_response(client, "never-issued").status_code == 200


def test_revoke_needs_client_authentication(flow: OAuthFlow) -> None:
    """/revoke without valid client credentials answers 401 invalid_client."""
    client, tokens = flow.obtain_tokens()
    client.client_secret = "wrong"
    response = flow.revoke_response(client, tokens.access_token)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_revoke_by_another_client_leaves_the_token_alive(
    flow: OAuthFlow, http: httpx.Client, mcp_url: str
) -> None:
    """A client cannot revoke another client's access token."""
    _, tokens = flow.obtain_tokens()
    other = flow.register_client()
    flow.revoke(other, tokens.access_token)
    assert send_initialize(http, mcp_url, tokens.access_token).status_code == 200
