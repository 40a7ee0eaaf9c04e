"""What clients read before they send a token: RFC 8414 additions, RFC 9728, challenges.

These are the parts that really decide whether ChatGPT, Claude or the MCP SDK client can
connect (STANDARDS.md, "The diagnosis"): the protected-resource metadata, a 401 that
points at it, an ``authorization_servers`` entry byte-identical to the AS ``issuer``, and
S256 advertised. The token format itself is invisible to clients.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

JWKS_PATH = "/.well-known/jwks.json"
INTROSPECTION_PATH = "/introspect"
PRM_PATH = "/.well-known/oauth-protected-resource"
INTROSPECTION_AUTH_METHODS = ("client_secret_basic", "client_secret_post")


def join_url(base: str, path: str) -> str:
    return base.rstrip("/") + path


def metadata_additions(
    issuer: str, *, jwks_path: str = JWKS_PATH, introspection_path: str = INTROSPECTION_PATH
) -> dict[str, Any]:
    """The RFC 8414 members the legacy metadata lacks (RFC 7662 §4 for introspection)."""
    return {
        "jwks_uri": join_url(issuer, jwks_path),
        "introspection_endpoint": join_url(issuer, introspection_path),
        "introspection_endpoint_auth_methods_supported": list(INTROSPECTION_AUTH_METHODS),
    }


def augment_metadata(
    metadata: Mapping[str, Any], issuer: str, *, s256: bool = True
) -> dict[str, Any]:
    """The legacy document plus the JWT members, ``issuer`` left untouched; S256 added
    unless ``s256`` is False (the token endpoint does not verify ``code_verifier``, so
    advertising PKCE would be a false promise: RFC 7636 §4.6)."""
    merged = dict(metadata)
    for name, value in metadata_additions(issuer).items():
        merged.setdefault(name, value)
    if not s256:
        return merged
    methods = list(merged.get("code_challenge_methods_supported") or [])
    if "S256" not in methods:
        methods.append("S256")
    merged["code_challenge_methods_supported"] = methods
    return merged


def protected_resource_metadata(
    resource: str, issuer: str, scopes: Iterable[str] = ()
) -> dict[str, Any]:
    """RFC 9728 §2; ``authorization_servers`` holds the issuer byte for byte."""
    document: dict[str, Any] = {
        "resource": resource.rstrip("/"),
        "authorization_servers": [issuer],
        "bearer_methods_supported": ["header"],
    }
    scope_list = list(scopes)
    if scope_list:
        document["scopes_supported"] = scope_list
    return document


def prm_paths(resource: str) -> tuple[str, ...]:
    """The root well-known path and the RFC 9728 §3.1 path-inserted one for the resource."""
    path = urlsplit(resource).path.rstrip("/")
    return (PRM_PATH, PRM_PATH + path) if path else (PRM_PATH,)


def prm_url(resource: str) -> str:
    """Where the 401 challenge sends clients: the path-inserted URL when there is a path."""
    parts = urlsplit(resource)
    return f"{parts.scheme}://{parts.netloc}{prm_paths(resource)[-1]}"


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def challenge_401(resource_metadata: str, description: str | None = None) -> str:
    """RFC 6750 §3.1 ``invalid_token`` with the RFC 9728 §5.1 ``resource_metadata`` hint."""
    parts = ['error="invalid_token"']
    if description:
        parts.append(f"error_description={_quoted(description)}")
    parts.append(f"resource_metadata={_quoted(resource_metadata)}")
    return "Bearer " + ", ".join(parts)


def challenge_missing(resource_metadata: str) -> str:
    """RFC 6750 §3.1: a request with no token gets no error code, only the hint."""
    return f"Bearer resource_metadata={_quoted(resource_metadata)}"


def challenge_403(resource_metadata: str, scope: Iterable[str]) -> str:
    scopes = " ".join(scope)
    return (
        f'Bearer error="insufficient_scope", scope={_quoted(scopes)}, '
        f"resource_metadata={_quoted(resource_metadata)}"
    )


def fix_challenge(header: str | None, resource_metadata: str, token_presented: bool) -> str:
    """A legacy Bearer 401 challenge made to point clients at the RFC 9728 metadata.

    Adds ``resource_metadata`` when absent; says ``invalid_token`` (RFC 6750 §3.1) where
    the legacy code said ``invalid_grant`` (a token-endpoint code clients misread at a
    resource) or gave no error for a presented token. Other schemes are left alone.
    """
    value = (header or "").strip()
    if not value:
        value = "Bearer"
    scheme, _, params = value.partition(" ")
    if scheme.lower() != "bearer":
        return value
    params = params.strip().replace('error="invalid_grant"', 'error="invalid_token"')
    parts = [params] if params else []
    if token_presented and "error=" not in params:
        parts.insert(0, 'error="invalid_token"')
    if "resource_metadata=" not in params:
        parts.append(f"resource_metadata={_quoted(resource_metadata)}")
    return "Bearer " + ", ".join(parts)
