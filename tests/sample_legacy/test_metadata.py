"""RFC 8414 metadata of the sample server, with its legacy defects."""

from __future__ import annotations

import httpx

from tests.support.oauth_flow import OAuthFlow
from tests.support.server_process import ServerProcess


def test_issuer_is_base_url(flow: OAuthFlow, server: ServerProcess) -> None:
    """The metadata names BASE_URL as the issuer, byte for byte."""
    assert flow.metadata["issuer"] == server.base_url


def test_endpoints_are_under_base_url(flow: OAuthFlow, server: ServerProcess) -> None:
    """The authorization, token and registration endpoints are the contract's paths."""
    metadata = flow.metadata
    assert metadata["authorization_endpoint"] == server.base_url + "/authorize"
    assert metadata["token_endpoint"] == server.base_url + "/token"
    assert metadata["registration_endpoint"] == server.base_url + "/register"


def test_no_jwks_uri(flow: OAuthFlow) -> None:
    """The legacy metadata has no jwks_uri."""
    assert "jwks_uri" not in flow.metadata


def test_no_introspection_endpoint(flow: OAuthFlow) -> None:
    """The legacy metadata has no introspection_endpoint."""
    assert "introspection_endpoint" not in flow.metadata


def test_advertises_s256_only(flow: OAuthFlow) -> None:
    """PKCE is advertised with S256 as the only method."""
    assert flow.metadata["code_challenge_methods_supported"] == ["S256"]


def test_grant_types(flow: OAuthFlow) -> None:
    """The grant types are authorization_code and refresh_token."""
    assert flow.metadata["grant_types_supported"] == ["authorization_code", "refresh_token"]


def test_no_protected_resource_metadata(server: ServerProcess, http: httpx.Client) -> None:
    """There is no RFC 9728 protected-resource metadata (a legacy defect)."""
    for path in (
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
    ):
        assert http.get(server.base_url + path).status_code == 404
