"""POST /token, authorization_code grant: PKCE, single use, client authentication, the answer."""

from __future__ import annotations

import base64

from tests.support.oauth_flow import OAuthFlow, looks_like_jwt, pkce_pair


def percent_encode(value: str) -> str:
    """Every byte of ``value`` as %XX, which a form-url-decoding server must undo."""
    return "".join(f"%{byte:02X}" for byte in value.encode())


def test_access_token_is_opaque(flow: OAuthFlow) -> None:
    """The access token is an opaque string, not a JWT."""
    _, tokens = flow.obtain_tokens()
    assert not looks_like_jwt(tokens.access_token)
    assert tokens.access_token.count(".") != 2


def test_refresh_token_is_opaque(flow: OAuthFlow) -> None:
    """A refresh token is issued with the access token, and it is opaque too."""
    _, tokens = flow.obtain_tokens()
    assert tokens.refresh_token
    assert not looks_like_jwt(tokens.refresh_token)


def test_token_type_is_bearer(flow: OAuthFlow) -> None:
    """The token type is Bearer."""
    _, tokens = flow.obtain_tokens()
    assert tokens.token_type == "Bearer"


def test_access_token_lives_an_hour(flow: OAuthFlow) -> None:
    """expires_in is 3600 seconds."""
    _, tokens = flow.obtain_tokens()
    assert tokens.expires_in == 3600


def test_token_response_is_not_cached(flow: OAuthFlow) -> None:
    """The token response carries Cache-Control: no-store."""
    _, tokens = flow.obtain_tokens()
    assert tokens.headers["cache-control"] == "no-store"


def test_wrong_code_verifier_is_refused(flow: OAuthFlow) -> None:
    """A code_verifier that does not match the code_challenge gets 400 invalid_grant."""
    client = flow.register_client()
    code = flow.authorize(client)
    other_verifier, _ = pkce_pair()
    response = flow.exchange_code_response(client, code, code_verifier=other_verifier)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_missing_code_verifier_is_refused(flow: OAuthFlow) -> None:
    """A code exchange without code_verifier gets 400 invalid_grant."""
    client = flow.register_client()
    code = flow.authorize(client)
    form = {
        "grant_type": "authorization_code",
        "code": code.code,
        "redirect_uri": code.redirect_uri,
    }
    response = flow.token_response(client, form)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_code_reuse_is_refused(flow: OAuthFlow) -> None:
    """An authorization code is single use: the second exchange gets 400 invalid_grant."""
    client = flow.register_client()
    code = flow.authorize(client)
    flow.exchange_code(client, code)
    response = flow.exchange_code_response(client, code)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_code_of_another_client_is_refused(flow: OAuthFlow) -> None:
    """A code issued to one client cannot be exchanged by another one."""
    owner = flow.register_client()
    thief = flow.register_client()
    code = flow.authorize(owner)
    response = flow.exchange_code_response(thief, code)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_mismatched_redirect_uri_is_refused(flow: OAuthFlow) -> None:
    """The redirect_uri at the token endpoint must be the one of the authorization request."""
    client = flow.register_client()
    code = flow.authorize(client)
    form = {
        "grant_type": "authorization_code",
        "code": code.code,
        "redirect_uri": "http://127.0.0.1:9/other",
        "code_verifier": code.code_verifier,
    }
    response = flow.token_response(client, form)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_wrong_client_secret_is_refused(flow: OAuthFlow) -> None:
    """A wrong client secret gets 401 invalid_client."""
    client = flow.register_client()
    code = flow.authorize(client)
    client.client_secret = "not-the-secret"
    response = flow.exchange_code_response(client, code)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_missing_client_authentication_is_refused(flow: OAuthFlow) -> None:
    """A confidential client that sends only its client_id gets 401 invalid_client."""
    client = flow.register_client()
    code = flow.authorize(client)
    form = {
        "grant_type": "authorization_code",
        "code": code.code,
        "redirect_uri": code.redirect_uri,
        "code_verifier": code.code_verifier,
        "client_id": client.client_id,
    }
    response = flow.http.post(flow.metadata["token_endpoint"], data=form)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_client_secret_post_is_accepted(flow: OAuthFlow) -> None:
    """A client registered for client_secret_post authenticates with the secret in the form."""
    client = flow.register_client(auth_method="client_secret_post")
    _, tokens = flow.obtain_tokens(client)
    assert tokens.access_token


def test_url_encoded_basic_credentials_are_accepted(flow: OAuthFlow) -> None:
    """client_secret_basic credentials are form-url-decoded (RFC 6749 2.3.1)."""
    client = flow.register_client()
    assert client.client_secret is not None
    code = flow.authorize(client)
    encoded = f"{percent_encode(client.client_id)}:{percent_encode(client.client_secret)}"
    header = "Basic " + base64.b64encode(encoded.encode()).decode()
    form = {
        "grant_type": "authorization_code",
        "code": code.code,
        "redirect_uri": code.redirect_uri,
        "code_verifier": code.code_verifier,
    }
    response = flow.http.post(
        flow.metadata["token_endpoint"], data=form, headers={"Authorization": header}
    )
    assert response.status_code == 200


def test_public_client_needs_no_secret(flow: OAuthFlow) -> None:
    """A public client (token_endpoint_auth_method none) exchanges its code with PKCE alone."""
    client = flow.register_client(auth_method="none")
    _, tokens = flow.obtain_tokens(client)
    assert tokens.access_token


def test_unsupported_grant_type_is_refused(flow: OAuthFlow) -> None:
    """A grant type the server does not support gets 400 unsupported_grant_type."""
    client = flow.register_client()
    response = flow.token_response(client, {"grant_type": "client_credentials"})
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"
