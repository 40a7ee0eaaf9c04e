"""The JWKS checks, on crafted key sets."""

from __future__ import annotations

from typing import Any

from migrate.verify.checks import (
    Status,
    jwks_cache_control,
    jwks_document,
    jwks_keys,
    jwks_private_members,
)
from migrate.verify.client import Answer
from tests.migrate.verify.support import Signer, json_answer


def test_published_rsa_key_passes(signer: Signer) -> None:
    """An RSA 2048 signing key with kid, use sig and alg RS256 passes."""
    assert jwks_keys([signer.jwk]).status is Status.PASS


def test_key_without_kid_fails(signer: Signer) -> None:
    """A key without kid fails: tokens could not name it."""
    key = {name: value for name, value in signer.jwk.items() if name != "kid"}
    check = jwks_keys([key])
    assert check.status is Status.FAIL
    assert "no kid" in check.message


def test_duplicate_kid_fails(signer: Signer) -> None:
    """Two keys with one kid fail."""
    check = jwks_keys([signer.jwk, signer.jwk])
    assert check.status is Status.FAIL
    assert "appears twice" in check.message


def test_symmetric_key_fails() -> None:
    """A symmetric oct key fails: it is not a signing key a JWKS may publish."""
    check = jwks_keys([{"kty": "oct", "kid": "s", "k": "c2VjcmV0"}])
    assert check.status is Status.FAIL
    assert "'oct'" in check.message


def test_key_of_unexpected_types_fails_without_crashing() -> None:
    """A key whose kty is a list fails like any unknown key type."""
    check = jwks_keys([{"kty": ["RSA"], "kid": "x"}])
    assert check.status is Status.FAIL


def test_short_rsa_modulus_fails(signer: Signer) -> None:
    """An RSA modulus under 2048 bits fails, with its size."""
    short = {**signer.jwk, "n": "AQAB" * 10}
    check = jwks_keys([short])
    assert check.status is Status.FAIL
    assert "under 2048" in check.message


def test_alg_not_fitting_kty_fails(signer: Signer) -> None:
    """An RSA key labelled ES256 fails."""
    check = jwks_keys([{**signer.jwk, "alg": "ES256"}])
    assert check.status is Status.FAIL
    assert "does not fit kty RSA" in check.message


def test_jwks_with_a_private_member_fails(signer: Signer) -> None:
    """A key carrying the private exponent d fails, naming the kid and the member."""
    leaked: dict[str, Any] = {**signer.jwk, "d": "c2VjcmV0"}
    check = jwks_private_members([leaked])
    assert check.status is Status.FAIL
    assert f"kid {signer.kid} has d" in check.message


def test_jwks_with_public_members_only_passes(signer: Signer) -> None:
    """A key with only public members passes the private-member check."""
    assert jwks_private_members([signer.jwk]).status is Status.PASS


def test_empty_key_set_fails() -> None:
    """A JWKS whose keys array is empty fails."""
    assert jwks_document(json_answer({"keys": []})).status is Status.FAIL


def test_jwks_without_cache_control_warns() -> None:
    """A JWKS served without Cache-Control is a warning."""
    answer = Answer("GET http://x/jwks", 200, {}, '{"keys": []}')
    assert jwks_cache_control(answer).status is Status.WARN
