"""GET /authorize: authorization code with PKCE S256, approved at once for the demo user."""

from __future__ import annotations

from tests.support.oauth_flow import OAuthFlow, pkce_pair, redirect_params


def test_pkce_request_redirects_with_code_and_state(flow: OAuthFlow) -> None:
    """With PKCE S256 the server redirects at once (302) to the redirect_uri with code and state."""
    client = flow.register_client()
    _, challenge = pkce_pair()
    response = flow.authorize_response(
        flow.authorize_params(client, code_challenge=challenge, state="xyz")
    )
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(client.redirect_uri + "?")
    params = redirect_params(response)
    assert params["code"]
    assert params["state"] == "xyz"


def test_scope_may_be_left_out(flow: OAuthFlow) -> None:
    """An authorization request without scope gets every supported scope in the token response."""
    client = flow.register_client()
    code = flow.authorize(client)
    tokens = flow.exchange_code(client, code)
    assert tokens.scope is not None
    assert set(tokens.scope.split()) == set(flow.metadata["scopes_supported"])


def test_requested_scope_is_granted(flow: OAuthFlow) -> None:
    """A supported scope that the client asks for is the scope granted."""
    client = flow.register_client()
    code = flow.authorize(client, scope="mcp:tools")
    assert flow.exchange_code(client, code).scope == "mcp:tools"


def test_unknown_scope_is_refused(flow: OAuthFlow) -> None:
    """A scope the server does not support is answered with an invalid_scope redirect."""
    client = flow.register_client()
    _, challenge = pkce_pair()
    params = flow.authorize_params(client, code_challenge=challenge, scope="admin")
    answer = redirect_params(flow.authorize_response(params))
    assert answer["error"] == "invalid_scope"
    assert "code" not in answer


def test_missing_code_challenge_is_refused(flow: OAuthFlow) -> None:
    """Without a code_challenge no code is issued: the redirect carries error=invalid_request."""
    client = flow.register_client()
    params = flow.authorize_params(client, code_challenge=None, state="s1")
    answer = redirect_params(flow.authorize_response(params))
    assert answer["error"] == "invalid_request"
    assert answer["state"] == "s1"
    assert "code" not in answer


def test_plain_code_challenge_method_is_refused(flow: OAuthFlow) -> None:
    """code_challenge_method=plain is refused: only S256 is accepted."""
    client = flow.register_client()
    verifier, _ = pkce_pair()
    params = flow.authorize_params(client, code_challenge=verifier)
    params["code_challenge_method"] = "plain"
    answer = redirect_params(flow.authorize_response(params))
    assert answer["error"] == "invalid_request"
    assert "code" not in answer


def test_unknown_client_is_refused_without_redirect(flow: OAuthFlow) -> None:
    """An unknown client_id gets a 400 answer, not a redirect."""
    client = flow.register_client()
    _, challenge = pkce_pair()
    params = flow.authorize_params(client, code_challenge=challenge)
    params["client_id"] = "no-such-client"
    response = flow.authorize_response(params)
    assert response.status_code == 400
    assert "location" not in response.headers


def test_unregistered_redirect_uri_is_refused_without_redirect(flow: OAuthFlow) -> None:
    """A redirect_uri the client did not register gets a 400 answer, never a redirect there."""
    client = flow.register_client()
    _, challenge = pkce_pair()
    params = flow.authorize_params(client, code_challenge=challenge)
    params["redirect_uri"] = "http://evil.example/callback"
    response = flow.authorize_response(params)
    assert response.status_code == 400
    assert "location" not in response.headers


def test_redirect_carries_no_iss(flow: OAuthFlow) -> None:
    """The authorization redirect carries no RFC 9207 iss parameter (legacy)."""
    client = flow.register_client()
    assert "iss" not in flow.authorize(client).params
