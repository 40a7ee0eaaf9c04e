"""The access-token checks (RFC 9068, RFC 8725), on tokens signed by a test key."""

from __future__ import annotations

import time

import jwt

from migrate.verify.checks import Status
from migrate.verify.client import Credentials, FlowError, Grant, RegistrationUnavailable
from migrate.verify.token_checks import (
    Expected,
    decode_segment,
    token_claims,
    token_format,
    token_header,
    token_jti,
    token_lifetime,
    token_obtained,
    token_signature,
    token_typ,
)
from tests.migrate.verify.support import CLIENT_ID, ISSUER, MCP_URL, Signer, good_claims

EXPECTED = Expected(ISSUER, (MCP_URL,), CLIENT_ID)


def header_of(token: str) -> dict[str, object]:
    header = decode_segment(token.split(".")[0])
    assert header is not None
    return header


def test_jwt_has_the_jws_format(signer: Signer) -> None:
    """A signed JWT passes the format check."""
    assert token_format(signer.mint()).status is Status.PASS


def test_opaque_token_fails_the_format_check() -> None:
    """An opaque random string fails, with its length and shape."""
    check = token_format("q0Zb4mK2x9Jt1c8Lw3YfR5nS7hV6aD0eG2iU4oP8sT1")
    assert check.status is Status.FAIL
    assert "opaque (43 characters, no dots)" in check.message


def test_jwe_fails_the_format_check() -> None:
    """A five-segment JWE fails: a JWS is expected."""
    assert token_format("eyJhbGciOiJSU0EifQ.a.b.c.d").status is Status.FAIL


def test_header_with_published_kid_passes(signer: Signer) -> None:
    """RS256 with a kid found in the JWKS passes."""
    token = signer.mint()
    assert token_header(header_of(token), [signer.jwk]).status is Status.PASS


def test_header_with_unknown_kid_fails(signer: Signer) -> None:
    """A kid the JWKS does not publish fails, naming the kid."""
    token = signer.mint(header={"kid": "elsewhere"})
    check = token_header(header_of(token), [signer.jwk])
    assert check.status is Status.FAIL
    assert "kid elsewhere is not in the JWKS" in check.message


def test_header_with_a_symmetric_alg_fails() -> None:
    """alg HS256 fails the header check."""
    check = token_header({"alg": "HS256", "kid": "k"}, [{"kid": "k", "kty": "RSA"}])
    assert check.status is Status.FAIL
    assert "'HS256'" in check.message


def test_header_naming_its_own_key_fails(signer: Signer) -> None:
    """A header carrying jku fails: tokens must not pick their key (RFC 8725)."""
    token = signer.mint(header={"jku": "http://evil/jwks"})
    assert token_header(header_of(token), [signer.jwk]).status is Status.FAIL


def test_typ_other_than_at_jwt_warns(signer: Signer) -> None:
    """typ JWT instead of at+jwt is a warning."""
    token = signer.mint(header={"typ": "JWT"})
    assert token_typ(header_of(token)).status is Status.WARN


def test_signature_verifies_with_the_published_key(signer: Signer) -> None:
    """A token signed by the published key passes the signature check."""
    token = signer.mint()
    assert token_signature(token, header_of(token), [signer.jwk]).status is Status.PASS


def test_signature_check_survives_a_leaked_private_key(signer: Signer) -> None:
    """A JWK that leaks its private members still verifies by its public ones, no crash."""
    token = signer.mint()
    private = jwt.algorithms.RSAAlgorithm.to_jwk(signer.private_key, as_dict=True)
    leaked = {**signer.jwk, **private, "kid": signer.kid}
    assert token_signature(token, header_of(token), [leaked]).status is Status.PASS


def test_tampered_payload_fails_the_signature_check(signer: Signer) -> None:
    """A token whose payload was swapped fails the signature check."""
    token = signer.mint()
    other = signer.mint({"sub": "mallory"})
    forged = ".".join([token.split(".")[0], other.split(".")[1], token.split(".")[2]])
    check = token_signature(forged, header_of(forged), [signer.jwk])
    assert check.status is Status.FAIL
    assert "refused" in check.message


def test_good_claims_pass() -> None:
    """The RFC 9068 claims for this issuer, resource and client pass."""
    assert token_claims(good_claims(), EXPECTED, time.time()).status is Status.PASS


def test_iss_with_a_trailing_slash_fails() -> None:
    """iss must be the metadata issuer exactly; a trailing slash fails."""
    claims = {**good_claims(), "iss": ISSUER + "/"}
    check = token_claims(claims, EXPECTED, time.time())
    assert check.status is Status.FAIL
    assert "iss" in check.message


def test_aud_of_another_resource_fails() -> None:
    """aud naming neither the MCP URL nor the PRM resource fails."""
    claims = {**good_claims(), "aud": "http://elsewhere/mcp"}
    assert token_claims(claims, EXPECTED, time.time()).status is Status.FAIL


def test_aud_as_a_list_holding_the_resource_passes() -> None:
    """aud may be a list, as long as it holds the resource."""
    claims = {**good_claims(), "aud": ["http://other", MCP_URL]}
    assert token_claims(claims, EXPECTED, time.time()).status is Status.PASS


def test_aud_of_unexpected_types_fails_without_crashing() -> None:
    """An aud holding objects fails like any other wrong audience."""
    claims = {**good_claims(), "aud": [{"url": MCP_URL}]}
    assert token_claims(claims, EXPECTED, time.time()).status is Status.FAIL


def test_client_id_of_another_client_fails() -> None:
    """client_id must be the client that obtained the token."""
    claims = {**good_claims(), "client_id": "someone-else"}
    assert token_claims(claims, EXPECTED, time.time()).status is Status.FAIL


def test_scope_as_a_list_fails() -> None:
    """scope must be a space-separated string, not a list."""
    claims = {**good_claims(), "scope": ["mcp:tools"]}
    check = token_claims(claims, EXPECTED, time.time())
    assert check.status is Status.FAIL
    assert "space-separated string" in check.message


def test_expired_token_fails() -> None:
    """A token whose exp has passed (beyond the leeway) fails."""
    claims = {**good_claims(), "exp": int(time.time()) - 120}
    assert token_claims(claims, EXPECTED, time.time()).status is Status.FAIL


def test_lifetime_over_an_hour_warns() -> None:
    """exp - iat over 3600 s is a warning naming the lifetime."""
    claims = {**good_claims(), "exp": good_claims()["iat"] + 7200}
    check = token_lifetime(claims)
    assert check.status is Status.WARN
    assert "7200 s" in check.message


def test_missing_jti_warns() -> None:
    """A token without jti is a warning."""
    claims = {name: value for name, value in good_claims().items() if name != "jti"}
    assert token_jti(claims).status is Status.WARN


def test_registration_refused_warns() -> None:
    """When the server lets no client register, the token checks are a warning, not a FAIL."""
    check = token_obtained(RegistrationUnavailable("dynamic client registration: 403"))
    assert check.status is Status.WARN
    assert "403" in check.message


def test_broken_flow_fails() -> None:
    """A flow step that fails after registration is a FAIL with its reason."""
    check = token_obtained(FlowError("authorization_code grant: POST /token -> 400"))
    assert check.status is Status.FAIL


def test_obtained_token_names_the_client() -> None:
    """A token obtained passes, naming the client and the client authentication used."""
    grant = Grant(Credentials("c-1", "s"), "token", "client_secret_post", {})
    check = token_obtained(grant)
    assert check.status is Status.PASS
    assert "c-1" in check.message and "client_secret_post" in check.message
