"""The RFC 9728 and 401-challenge checks, on crafted documents and headers."""

from __future__ import annotations

from migrate.verify.checks import (
    Status,
    challenge,
    challenge_resource_metadata,
    prm_authorization_servers,
    prm_document,
)
from migrate.verify.client import Answer
from migrate.verify.runner import resource_metadata_url
from tests.migrate.verify.support import ISSUER, MCP_URL, json_answer

PRM = {
    "resource": MCP_URL,
    "authorization_servers": [ISSUER],
    "bearer_methods_supported": ["header"],
}
NOT_FOUND = Answer("GET " + ISSUER + "/.well-known/oauth-protected-resource", 404, {}, "no")


def test_prm_listing_the_issuer_passes() -> None:
    """authorization_servers holding the metadata issuer byte for byte passes."""
    assert prm_authorization_servers(PRM, ISSUER).status is Status.PASS


def test_prm_issuer_with_a_trailing_slash_fails() -> None:
    """An authorization_servers entry differing from the issuer by a trailing slash fails."""
    prm = {**PRM, "authorization_servers": [ISSUER + "/"]}
    check = prm_authorization_servers(prm, ISSUER)
    assert check.status is Status.FAIL
    assert "trailing slash" in check.message


def test_prm_without_authorization_servers_fails() -> None:
    """A PRM without authorization_servers fails."""
    prm = {"resource": MCP_URL}
    assert prm_authorization_servers(prm, ISSUER).status is Status.FAIL


def test_prm_at_the_path_inserted_url_passes() -> None:
    """The PRM at /.well-known/oauth-protected-resource/mcp naming the MCP URL passes."""
    check = prm_document(json_answer(PRM), NOT_FOUND, MCP_URL)
    assert check.status is Status.PASS


def test_prm_only_at_the_root_warns() -> None:
    """A PRM for the MCP URL served only at the root URL is a warning (RFC 9728 §3.1)."""
    check = prm_document(NOT_FOUND, json_answer(PRM), MCP_URL)
    assert check.status is Status.WARN


def test_no_prm_fails_quoting_both_urls() -> None:
    """When neither URL serves a PRM, the FAIL quotes both answers."""
    check = prm_document(NOT_FOUND, NOT_FOUND, MCP_URL)
    assert check.status is Status.FAIL
    assert check.message.count("-> 404") == 2


def test_prm_naming_another_resource_fails() -> None:
    """A PRM whose resource is another URL fails."""
    prm = {**PRM, "resource": MCP_URL + "/"}
    assert prm_document(json_answer(prm), NOT_FOUND, MCP_URL).status is Status.FAIL


def test_challenge_without_bearer_fails() -> None:
    """A 401 whose WWW-Authenticate is not a Bearer challenge fails."""
    answer = Answer("POST " + MCP_URL, 401, {"www-authenticate": 'Basic realm="x"'})
    assert challenge(answer).status is Status.FAIL


def test_challenge_that_is_not_401_fails() -> None:
    """An MCP endpoint answering 200 without a token fails."""
    assert challenge(Answer("POST " + MCP_URL, 200)).status is Status.FAIL


def test_resource_metadata_parameter_is_read_quoted_or_bare() -> None:
    """resource_metadata is read from a challenge, quoted or as a bare token."""
    quoted = 'Bearer error="invalid_token", resource_metadata="http://x/prm"'
    assert resource_metadata_url(quoted) == "http://x/prm"
    assert resource_metadata_url("Bearer resource_metadata=http://x/prm") == "http://x/prm"
    assert resource_metadata_url('Bearer realm="mcp"') is None


def test_challenge_without_resource_metadata_fails() -> None:
    """A Bearer challenge without resource_metadata fails."""
    check = challenge_resource_metadata(None, None, ISSUER)
    assert check.status is Status.FAIL
    assert "no resource_metadata" in check.message


def test_resource_metadata_url_serving_another_issuer_fails() -> None:
    """resource_metadata naming a PRM for another issuer fails."""
    prm = {**PRM, "authorization_servers": ["http://elsewhere"]}
    check = challenge_resource_metadata("http://x/prm", json_answer(prm), ISSUER)
    assert check.status is Status.FAIL
