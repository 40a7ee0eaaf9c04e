"""Discovery: RFC 9728 documents, RFC 8414 additions, and the RFC 6750 challenges."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from urllib.parse import urlsplit

import httpx
import pytest

from shims.discovery import (
    augment_metadata,
    challenge_401,
    challenge_403,
    challenge_missing,
    metadata_additions,
    prm_paths,
    prm_url,
    protected_resource_metadata,
)
from shims.keys import KeyRing
from shims.runtime import OAuthMigration
from shims.settings import Settings
from tests.support.inproc_server import serve_asgi, serve_wsgi

from .apps import bearer, flask_app, starlette_app

# A trailing slash and a path: byte-identity must keep both exactly as configured.
ISSUER = "https://auth.example.test/tenant/"
RESOURCE = "https://mcp.example.test/mcp/"
CANONICAL_RESOURCE = "https://mcp.example.test/mcp"
PRM = "https://mcp.example.test/.well-known/oauth-protected-resource/mcp"
PRM_PATHS = ("/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp")


def _serve(framework: str, migration: OAuthMigration) -> AbstractContextManager[str]:
    if framework == "starlette":
        return serve_asgi(starlette_app(migration))
    return serve_wsgi(flask_app(migration))


@pytest.fixture(scope="module", params=["starlette", "flask"])
def base_url(request: pytest.FixtureRequest, ring: KeyRing) -> Iterator[str]:
    settings = Settings(
        issuer=ISSUER, resource=RESOURCE, scopes=("read", "write"), mode="final", environ={}
    )
    with _serve(request.param, OAuthMigration(settings, keyring=ring)) as url:
        yield url


# -- protected-resource metadata over HTTP -----------------------------------------------


@pytest.mark.parametrize("path", PRM_PATHS)
def test_prm_is_served_without_a_token(base_url: str, path: str) -> None:
    """The PRM answers at the root and path-inserted well-known URLs without a token."""
    response = httpx.get(base_url + path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize("path", PRM_PATHS)
def test_prm_authorization_servers_is_the_issuer_byte_for_byte(base_url: str, path: str) -> None:
    """authorization_servers holds the issuer exactly as configured, trailing slash included."""
    document = httpx.get(base_url + path).json()
    assert document["authorization_servers"] == [ISSUER]
    assert f'"{ISSUER}"'.encode() in httpx.get(base_url + path).content


@pytest.mark.parametrize("path", PRM_PATHS)
def test_prm_members(base_url: str, path: str) -> None:
    """resource has no trailing slash; bearer_methods_supported is ["header"]; scopes listed."""
    document = httpx.get(base_url + path).json()
    assert document == {
        "resource": CANONICAL_RESOURCE,
        "authorization_servers": [ISSUER],
        "bearer_methods_supported": ["header"],
        "scopes_supported": ["read", "write"],
    }


def test_challenge_points_at_a_served_prm(base_url: str) -> None:
    """The resource_metadata URL in a 401 names a path this server answers with the PRM."""
    response = httpx.get(base_url + "/mcp", headers=bearer("bad-token"))
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert f'resource_metadata="{PRM}"' in challenge
    document = httpx.get(base_url + urlsplit(PRM).path).json()
    assert document["resource"] == CANONICAL_RESOURCE


# -- the pure functions ------------------------------------------------------------------


def test_protected_resource_metadata_strips_the_trailing_slash() -> None:
    """The PRM resource is the canonical URL without a trailing slash; scopes only when given."""
    assert protected_resource_metadata(RESOURCE, ISSUER) == {
        "resource": CANONICAL_RESOURCE,
        "authorization_servers": [ISSUER],
        "bearer_methods_supported": ["header"],
    }


@pytest.mark.parametrize(
    ("resource", "paths", "url"),
    [
        (RESOURCE, PRM_PATHS, PRM),
        ("https://mcp.example.test/mcp", PRM_PATHS, PRM),
        (
            "https://mcp.example.test",
            PRM_PATHS[:1],
            "https://mcp.example.test/.well-known/oauth-protected-resource",
        ),
        (
            "https://mcp.example.test:8443/a/b",
            (PRM_PATHS[0], PRM_PATHS[0] + "/a/b"),
            "https://mcp.example.test:8443/.well-known/oauth-protected-resource/a/b",
        ),
    ],
)
def test_prm_paths_and_url(resource: str, paths: tuple[str, ...], url: str) -> None:
    """RFC 9728 §3.1: the root path always, the path-inserted one when the resource has a path."""
    assert prm_paths(resource) == paths
    assert prm_url(resource) == url


def test_augment_metadata_adds_the_jwt_members() -> None:
    """augment_metadata adds jwks_uri, introspection_endpoint and its auth methods."""
    merged = augment_metadata({"issuer": ISSUER}, ISSUER)
    assert merged["jwks_uri"] == "https://auth.example.test/tenant/.well-known/jwks.json"
    assert merged["introspection_endpoint"] == "https://auth.example.test/tenant/introspect"
    assert merged["introspection_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
    ]


def test_augment_metadata_leaves_issuer_untouched() -> None:
    """The issuer member is kept byte for byte, whatever it looks like."""
    legacy = {"issuer": ISSUER, "authorization_endpoint": ISSUER + "authorize"}
    merged = augment_metadata(legacy, ISSUER)
    assert merged["issuer"] == ISSUER
    assert merged["authorization_endpoint"] == legacy["authorization_endpoint"]


@pytest.mark.parametrize(
    ("methods", "expected"),
    [(None, ["S256"]), (["plain"], ["plain", "S256"]), (["S256"], ["S256"])],
)
def test_augment_metadata_advertises_s256(methods: list[str] | None, expected: list[str]) -> None:
    """code_challenge_methods_supported gains S256 once, keeping what was there."""
    legacy = {"issuer": ISSUER}
    if methods is not None:
        legacy["code_challenge_methods_supported"] = methods  # type: ignore[assignment]
    assert augment_metadata(legacy, ISSUER)["code_challenge_methods_supported"] == expected


def test_augment_metadata_keeps_existing_members_and_input() -> None:
    """An existing jwks_uri is kept and the legacy dict itself is not modified."""
    legacy = {"issuer": ISSUER, "jwks_uri": "https://keys.example.test/jwks"}
    merged = augment_metadata(legacy, ISSUER)
    assert merged["jwks_uri"] == "https://keys.example.test/jwks"
    assert legacy == {"issuer": ISSUER, "jwks_uri": "https://keys.example.test/jwks"}


def test_metadata_additions_use_the_issuer_base() -> None:
    """The added URLs hang off the issuer without doubling its slash."""
    assert metadata_additions("https://as.example.test/")["jwks_uri"] == (
        "https://as.example.test/.well-known/jwks.json"
    )


def test_runtime_authorization_server_metadata(ring: KeyRing) -> None:
    """OAuthMigration.authorization_server_metadata is augment_metadata with its issuer."""
    migration = OAuthMigration(Settings(issuer=ISSUER, resource=RESOURCE, environ={}), keyring=ring)
    merged = migration.authorization_server_metadata({"issuer": ISSUER})
    assert merged == augment_metadata({"issuer": ISSUER}, ISSUER)


# -- challenges --------------------------------------------------------------------------


def test_challenge_401_format() -> None:
    """401: Bearer error="invalid_token" then resource_metadata (RFC 6750 §3, RFC 9728 §5.1)."""
    assert challenge_401(PRM) == f'Bearer error="invalid_token", resource_metadata="{PRM}"'


def test_challenge_401_with_description() -> None:
    """An error_description sits between the error and the resource_metadata hint."""
    assert challenge_401(PRM, "expired") == (
        f'Bearer error="invalid_token", error_description="expired", resource_metadata="{PRM}"'
    )


def test_challenge_quotes_are_escaped() -> None:
    """Quotes and backslashes in a description are escaped as RFC 7230 quoted-string."""
    assert 'error_description="a \\"b\\" \\\\c"' in challenge_401(PRM, 'a "b" \\c')


def test_challenge_missing_format() -> None:
    """A request with no token gets no error code, only the resource_metadata hint."""
    assert challenge_missing(PRM) == f'Bearer resource_metadata="{PRM}"'


def test_challenge_403_format() -> None:
    """403: insufficient_scope with the needed scopes and the resource_metadata hint."""
    assert challenge_403(PRM, ["read", "write"]) == (
        f'Bearer error="insufficient_scope", scope="read write", resource_metadata="{PRM}"'
    )


@pytest.mark.parametrize(("methods", "expected"), [(None, None), (["plain"], ["plain"])])
def test_augment_metadata_without_s256_keeps_what_the_legacy_said(
    methods: list[str] | None, expected: list[str] | None
) -> None:
    """``s256=False`` (the verifier is not checked): S256 is not added, the rest is."""
    legacy = (
        {"issuer": ISSUER}
        if methods is None
        else {"issuer": ISSUER, "code_challenge_methods_supported": methods}
    )
    merged = augment_metadata(legacy, ISSUER, s256=False)
    assert merged.get("code_challenge_methods_supported") == expected
    assert "jwks_uri" in merged
