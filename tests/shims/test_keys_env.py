"""Keys from the environment for a fleet: one signing key and a JWKS of the published ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shims.keys import (
    ENV_SIGNING_KEY,
    ENV_VERIFY_KEYS,
    KeyProblem,
    KeyRing,
    generate_private_key,
    load_jwks,
    private_pem,
    thumbprint,
)


def _pem_of(folder: Path, ring: KeyRing) -> str:
    return (folder / f"{ring.signing_key.kid}.pem").read_text(encoding="ascii")


def test_the_signing_key_and_the_jwks_make_one_ring(key_folder: Path, ring: KeyRing) -> None:
    env = {ENV_SIGNING_KEY: _pem_of(key_folder, ring), ENV_VERIFY_KEYS: json.dumps(ring.jwks())}
    loaded = KeyRing.from_env(env)
    assert loaded.signing_key.kid == ring.signing_key.kid
    assert sorted(loaded.by_kid) == sorted(ring.by_kid)
    others = [k for k in loaded.keys if k.kid != ring.signing_key.kid]
    assert others and all(k.private_key is None for k in others)


def test_the_signing_key_is_published_even_when_the_jwks_omits_it(ring: KeyRing) -> None:
    key = generate_private_key()
    env = {ENV_SIGNING_KEY: private_pem(key).decode(), ENV_VERIFY_KEYS: json.dumps(ring.jwks())}
    loaded = KeyRing.from_env(env)
    kids = [k["kid"] for k in loaded.jwks()["keys"]]
    assert kids[0] == thumbprint(key.public_key()) and len(kids) == len(ring.keys) + 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda jwk: jwk.update(d="AQAB"), "private key members"),
        (lambda jwk: jwk.update(kid="A" * 43), "thumbprint"),
        (lambda jwk: jwk.update(kty="EC"), "not an RSA JWK"),
        (lambda jwk: jwk.update(alg="RS512"), "RS256"),
        (lambda jwk: jwk.update(n="%%%"), "unreadable"),
    ],
    ids=["private-member", "wrong-kid", "not-rsa", "other-alg", "bad-modulus"],
)
def test_a_bad_jwks_member_is_refused(ring: KeyRing, change: object, message: str) -> None:
    document = ring.jwks()
    assert callable(change)
    change(document["keys"][0])
    with pytest.raises(KeyProblem, match=message) as raised:
        load_jwks(json.dumps(document), ENV_VERIFY_KEYS)
    assert document["keys"][0]["n"][:20] not in str(raised.value)


@pytest.mark.parametrize("text", ["not json", "[]", '{"keys": []}', '{"keys": "x"}'])
def test_a_document_that_is_not_a_jwks_is_refused(text: str) -> None:
    with pytest.raises(KeyProblem, match=ENV_VERIFY_KEYS):
        load_jwks(text, ENV_VERIFY_KEYS)


def test_a_short_key_is_refused() -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa
    from jwt.algorithms import RSAAlgorithm

    short = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    jwk = RSAAlgorithm.to_jwk(short, as_dict=True)
    with pytest.raises(KeyProblem, match="1024 bits"):
        load_jwks(json.dumps({"keys": [jwk]}), ENV_VERIFY_KEYS)
