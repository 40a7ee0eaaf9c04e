"""Build access tokens by hand, valid or hostile, for the shims tests.

Tokens are assembled segment by segment and signed with ``cryptography`` (RS256) or
``hmac`` (HS256) directly, not with PyJWT, so a test can produce what PyJWT refuses to
write: ``alg: none``, HMAC keyed with a PEM public key, forbidden headers, claims of the
wrong type, padded or non-canonical base64.

A deliberate independent oracle: it shares no code with ``shims/`` or PyJWT, so a bug
in either cannot make its own tokens look right to it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from shims.keys import KeyRing, SigningKey

ISSUER = "https://auth.example.test"
RESOURCE = "https://mcp.example.test/mcp"
OTHER_AUDIENCE = "https://other.example.test/mcp"
LEEWAY = 30
REQUIRED_CLAIMS = ("iss", "sub", "aud", "exp", "iat", "client_id", "jti")


class _Drop:
    def __repr__(self) -> str:
        return "DROP"


DROP: Any = _Drop()
"""As an override value: remove the member instead of setting it."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def json_segment(value: Any) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode("utf-8"))


def rs256(key: rsa.RSAPrivateKey, signing_input: str) -> str:
    signature = key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return b64url(signature)


def hs256(secret: bytes, signing_input: str) -> str:
    return b64url(hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest())


def apply(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    result = dict(base)
    for name, value in overrides.items():
        if value is DROP:
            result.pop(name, None)
        else:
            result[name] = value
    return result


def segments(token: str) -> list[str]:
    return token.split(".")


def decode_segment(segment: str) -> Any:
    return json.loads(b64url_decode(segment))


@dataclass
class Forge:
    """Our key ring's signing key, a foreign key, and token builders around them."""

    ring: KeyRing
    foreign: rsa.RSAPrivateKey
    issuer: str = ISSUER
    audience: str = RESOURCE

    @property
    def signer(self) -> SigningKey:
        return self.ring.signing_key

    @property
    def private_key(self) -> rsa.RSAPrivateKey:
        key = self.signer.private_key
        assert key is not None
        return key

    def key_for(self, kid: str) -> rsa.RSAPrivateKey:
        key = self.ring.by_kid[kid].private_key
        assert key is not None
        return key

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        base = {
            "iss": self.issuer,
            "sub": "user-1",
            "aud": self.audience,
            "client_id": "client-1",
            "scope": "read write",
            "iat": now,
            "exp": now + 3600,
            "jti": secrets.token_urlsafe(12),
        }
        return apply(base, overrides)

    def header(self, **overrides: Any) -> dict[str, Any]:
        return apply({"alg": "RS256", "typ": "at+jwt", "kid": self.signer.kid}, overrides)

    def token(
        self,
        claims: dict[str, Any] | None = None,
        header: dict[str, Any] | None = None,
        key: rsa.RSAPrivateKey | None = None,
    ) -> str:
        """A compact JWS over ``header`` and ``claims``, RS256-signed with ``key``."""
        signing_input = self.signing_input(claims, header)
        return f"{signing_input}.{rs256(key or self.private_key, signing_input)}"

    def signing_input(
        self, claims: dict[str, Any] | None = None, header: dict[str, Any] | None = None
    ) -> str:
        header = self.header() if header is None else header
        claims = self.claims() if claims is None else claims
        return f"{json_segment(header)}.{json_segment(claims)}"

    def sign_segments(self, header_segment: str, payload_segment: str) -> str:
        """Sign raw segments as they are (for padded or odd encodings)."""
        signing_input = f"{header_segment}.{payload_segment}"
        return f"{signing_input}.{rs256(self.private_key, signing_input)}"

    def valid(self, **claim_overrides: Any) -> str:
        return self.token(self.claims(**claim_overrides))
