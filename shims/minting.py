"""RFC 9068 JWT access tokens, signed with the key ring's active key.

Claims: ``iss``, ``sub``, ``aud`` (the RFC 8707 resource the client asked for, else the
canonical MCP URL), ``client_id``, ``scope`` as one space-separated string, ``iat``,
``exp`` and a random ``jti``. Header: ``alg: RS256``, ``typ: at+jwt``, ``kid``. Nothing
secret goes into claims: anyone holding the token can read them. Refresh tokens and
authorization codes are not this module's business; they stay opaque.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from .keys import KeyRing
from .policy import DEFAULT_LIFETIME
from .verifier import ALGORITHM

RESERVED_CLAIMS = frozenset({"iss", "sub", "aud", "client_id", "scope", "iat", "exp", "jti"})


@dataclass(frozen=True)
class MintedToken:
    token: str
    claims: dict[str, Any]
    expires_in: int


def scope_string(scope: str | Iterable[str] | None) -> str:
    """RFC 9068 §2.2.3: one space-separated string, whatever shape the legacy code used."""
    if scope is None:
        return ""
    if isinstance(scope, str):
        return " ".join(scope.split())
    return " ".join(str(s) for s in scope)


class TokenMinter:
    """Mints access tokens for one issuer and one default audience."""

    def __init__(
        self,
        keyring: Callable[[], KeyRing],
        *,
        issuer: str,
        default_audience: str,
        lifetime: int = DEFAULT_LIFETIME,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if lifetime <= 0:
            raise ValueError("the token lifetime must be positive")
        self.keyring = keyring
        self.issuer = issuer
        self.default_audience = default_audience
        self.lifetime = lifetime
        self.clock = clock

    def mint(
        self,
        *,
        subject: str,
        client_id: str,
        scope: str | Iterable[str] | None = None,
        audience: str | Iterable[str] | None = None,
        lifetime: int | None = None,
        extra_claims: Mapping[str, Any] | None = None,
    ) -> MintedToken:
        if not subject or not client_id:
            raise ValueError("an access token needs a subject and a client_id")
        key = self.keyring().signing_key
        now = int(self.clock())
        ttl = self.lifetime if lifetime is None else int(lifetime)
        claims: dict[str, Any] = dict(extra_claims or {})
        if RESERVED_CLAIMS.intersection(claims):
            raise ValueError("extra claims may not replace the RFC 9068 claims")
        claims.update(
            iss=self.issuer,
            sub=str(subject),
            aud=_audience(audience, self.default_audience),
            client_id=str(client_id),
            scope=scope_string(scope),
            iat=now,
            exp=now + ttl,
            jti=secrets.token_urlsafe(16),
        )
        token = jwt.encode(
            claims,
            key.require_private(),
            algorithm=ALGORITHM,
            headers={"kid": key.kid, "typ": "at+jwt"},
        )
        return MintedToken(token, claims, ttl)


def _audience(requested: str | Iterable[str] | None, default: str) -> str | list[str]:
    if requested is None or requested == "" or requested == []:
        return default
    if isinstance(requested, str):
        return requested
    values = [str(a) for a in requested]
    return values[0] if len(values) == 1 else values
