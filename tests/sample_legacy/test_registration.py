"""RFC 7591 dynamic client registration at /register."""

from __future__ import annotations

from tests.support.oauth_flow import REDIRECT_URI, OAuthFlow


def test_confidential_client_gets_id_and_secret(flow: OAuthFlow) -> None:
    """Registering a client_secret_basic client answers 201 with a client_id and a client_secret."""
    response = flow.register_response(
        {"redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "client_secret_basic"}
    )
    assert response.status_code == 201
    body = response.json()
    assert body["client_id"]
    assert body["client_secret"]
    assert body["token_endpoint_auth_method"] == "client_secret_basic"
    assert body["redirect_uris"] == [REDIRECT_URI]


def test_default_auth_method_is_client_secret_basic(flow: OAuthFlow) -> None:
    """Without token_endpoint_auth_method the client is registered for client_secret_basic."""
    body = flow.register_response({"redirect_uris": [REDIRECT_URI]}).json()
    assert body["token_endpoint_auth_method"] == "client_secret_basic"
    assert body["client_secret"]


def test_public_client_gets_no_secret(flow: OAuthFlow) -> None:
    """A client registered with token_endpoint_auth_method none gets no client_secret."""
    response = flow.register_response(
        {"redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "none"}
    )
    assert response.status_code == 201
    assert "client_secret" not in response.json()


def test_registration_is_not_cached(flow: OAuthFlow) -> None:
    """The registration answer, which holds a secret, carries Cache-Control: no-store."""
    response = flow.register_response({"redirect_uris": [REDIRECT_URI]})
    assert response.headers["cache-control"] == "no-store"


def test_missing_redirect_uris_is_refused(flow: OAuthFlow) -> None:
    """A registration without redirect_uris is refused with 400 invalid_redirect_uri."""
    response = flow.register_response({"client_name": "no redirect"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_redirect_uri"


def test_unknown_auth_method_is_refused(flow: OAuthFlow) -> None:
    """A token_endpoint_auth_method the server does not support is refused with 400."""
    response = flow.register_response(
        {"redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "private_key_jwt"}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_metadata"
