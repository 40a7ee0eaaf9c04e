"""The RFC 8414 metadata checks, on crafted documents."""

from __future__ import annotations

from migrate.verify.checks import (
    Status,
    metadata_document,
    metadata_introspection,
    metadata_jwks_uri,
    metadata_pkce,
)
from migrate.verify.client import Answer
from tests.migrate.verify.support import ISSUER, json_answer

ENDPOINTS = {"authorization_endpoint": ISSUER + "/authorize", "token_endpoint": ISSUER + "/token"}


def test_metadata_naming_the_base_url_passes() -> None:
    """Metadata whose issuer is the URL verified, with the flow's endpoints, passes."""
    check = metadata_document(json_answer({"issuer": ISSUER, **ENDPOINTS}), ISSUER)
    assert check.status is Status.PASS


def test_metadata_issuer_of_another_host_fails() -> None:
    """An issuer other than the URL verified fails (RFC 8414 §3.3)."""
    check = metadata_document(json_answer({"issuer": "http://other", **ENDPOINTS}), ISSUER)
    assert check.status is Status.FAIL
    assert "'http://other'" in check.message


def test_metadata_issuer_with_a_trailing_slash_warns() -> None:
    """An issuer differing from the URL only by a trailing slash is a warning, named so."""
    check = metadata_document(json_answer({"issuer": ISSUER + "/", **ENDPOINTS}), ISSUER)
    assert check.status is Status.WARN
    assert "trailing slash" in check.message


def test_unreachable_metadata_fails_with_the_transport_error() -> None:
    """A connection error is a FAIL quoting the request and the error."""
    answer = Answer("GET http://127.0.0.1:1/x", error="ConnectError: refused")
    check = metadata_document(answer, ISSUER)
    assert check.status is Status.FAIL
    assert "GET http://127.0.0.1:1/x failed: ConnectError: refused" in check.message


def test_missing_jwks_uri_fails() -> None:
    """Metadata without jwks_uri fails: the legacy defect."""
    assert metadata_jwks_uri({"issuer": ISSUER}).status is Status.FAIL


def test_introspection_allowing_no_authentication_fails() -> None:
    """An introspection endpoint advertising auth method "none" fails (RFC 7662 §2.1)."""
    metadata = {
        "introspection_endpoint": ISSUER + "/introspect",
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "none"],
    }
    assert metadata_introspection(metadata).status is Status.FAIL


def test_introspection_without_auth_methods_warns() -> None:
    """An introspection endpoint without its auth methods listed is a warning."""
    metadata = {"introspection_endpoint": ISSUER + "/introspect"}
    assert metadata_introspection(metadata).status is Status.WARN


def test_pkce_without_s256_fails() -> None:
    """code_challenge_methods_supported without S256 fails."""
    assert metadata_pkce({"code_challenge_methods_supported": ["plain"]}).status is Status.FAIL
