"""RSA keys with a public exponent other than 65537 are refused wherever keys are read
(docs STANDARDS.md "Keys": RSA 2048 or larger, e = 65537): the JWKS of
``OAUTH_MIGRATE_VERIFY_KEYS``, the PEM of ``OAUTH_MIGRATE_SIGNING_KEY`` and of the published
keys. A small exponent is the precondition of the e = 3 signature forgeries against lax
PKCS#1 v1.5 checkers; the kit never makes such a key, so one showing up is refused."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from shims.keys import (
    ENV_PUBLISHED_KEYS,
    ENV_SIGNING_KEY,
    ENV_VERIFY_KEYS,
    KeyProblem,
    KeyRing,
    generate_private_key,
    load_jwks,
    private_pem,
)


@pytest.fixture(scope="module")
def small_exponent() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=3, key_size=2048)


def test_a_jwks_member_with_exponent_3_is_refused(small_exponent: rsa.RSAPrivateKey) -> None:
    jwk = RSAAlgorithm.to_jwk(small_exponent.public_key(), as_dict=True)
    with pytest.raises(KeyProblem, match="65537"):
        load_jwks(json.dumps({"keys": [jwk]}), ENV_VERIFY_KEYS)


def test_a_signing_key_with_exponent_3_is_refused(small_exponent: rsa.RSAPrivateKey) -> None:
    with pytest.raises(KeyProblem, match="65537"):
        KeyRing.from_env({ENV_SIGNING_KEY: private_pem(small_exponent).decode()})


def test_a_published_pem_with_exponent_3_is_refused(small_exponent: rsa.RSAPrivateKey) -> None:
    public = small_exponent.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    env = {
        ENV_SIGNING_KEY: private_pem(generate_private_key()).decode(),
        ENV_PUBLISHED_KEYS: public.decode(),
    }
    with pytest.raises(KeyProblem, match="65537"):
        KeyRing.from_env(env)


def test_a_key_with_exponent_65537_still_loads() -> None:
    jwk = RSAAlgorithm.to_jwk(generate_private_key().public_key(), as_dict=True)
    assert len(load_jwks(json.dumps({"keys": [jwk]}), ENV_VERIFY_KEYS)) == 1
