"""RFC 7662 token introspection for both token kinds, behind client authentication.

Callers authenticate with ``client_secret_basic`` or ``client_secret_post`` through a
callable the host server supplies (its own client registry); without it the answer is
401, so the endpoint cannot be used to scan for live tokens (RFC 7662 §2.1, §4). Anything
invalid, expired, revoked, malformed or foreign is exactly ``{"active": false}``; an
unknown ``token_type_hint`` is not an error: every kind is searched (RFC 7662 §2.1).
"""

from __future__ import annotations

import base64
import hmac
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from .gate import TokenGate, client_id_of, field_of, refuse_generator
from .minting import scope_string
from .verifier import TokenRejected, VerifiedToken, looks_like_jwt

log = logging.getLogger("oauth_migration.introspection")

ClientAuthenticator = Callable[[str, str], bool]
LegacyDescriber = Callable[[Any], Mapping[str, Any] | None]

INACTIVE: dict[str, Any] = {"active": False}
# The largest introspection form read; the adapters answer 413 past it, before reading more.
MAX_FORM_BYTES = 64 * 1024
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_JWT_MEMBERS = ("scope", "client_id", "sub", "aud", "iss", "exp", "iat", "jti", "nbf")


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def static_clients(secrets_by_client: Mapping[str, str]) -> ClientAuthenticator:
    """An authenticator over a fixed ``client_id -> secret`` map, compared in constant time."""

    def authenticate(client_id: str, secret: str) -> bool:
        expected = secrets_by_client.get(client_id)
        # Compare even for unknown clients so timing does not tell which ids exist.
        ok = hmac.compare_digest((expected or "\0unknown").encode("utf-8"), secret.encode("utf-8"))
        return expected is not None and ok

    return authenticate


def client_credentials(
    authorization: str | None, form: Mapping[str, str]
) -> tuple[str, str] | None:
    """RFC 6749 §2.3.1: HTTP Basic (form-urlencoded parts) or the two form fields."""
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except ValueError:  # binascii.Error, UnicodeDecodeError, or non-ASCII text
            return None
        client_id, sep, secret = decoded.partition(":")
        return (unquote_plus(client_id), unquote_plus(secret)) if sep else None
    posted_id, posted_secret = form.get("client_id"), form.get("client_secret")
    if posted_id and posted_secret is not None:
        return posted_id, posted_secret
    return None


def parse_form(raw: bytes) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (RFC 7662 §2.1) as a dict."""
    return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))


def _epoch(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, str):
        try:
            return int(datetime.fromisoformat(value).timestamp())
        except ValueError:
            return None
    return None


def _first(record: Any, names: tuple[str, ...]) -> Any:
    for name in names:
        value = field_of(record, name)
        if value is not None:
            return value
    return None


def _audience(value: Any) -> str | list[str] | None:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, list | tuple) and value and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def describe_legacy_record(record: Any) -> dict[str, Any]:
    """Best effort over the usual legacy field names; codemods write a precise one.

    ``aud`` is the stored audience or RFC 8707 resource where the record keeps one (the
    SDK's ``AccessToken.resource``): an opaque token issued for another resource is not
    described as this server's (RFC 7662 §2.2)."""
    scope = _first(record, ("scope", "scopes"))
    audience = _audience(_first(record, ("aud", "audience", "resource")))
    return {
        **({"aud": audience} if audience is not None else {}),
        "sub": _first(record, ("sub", "user_id", "user", "username", "subject", "uid", "owner")),
        "client_id": client_id_of(record),
        "scope": scope_string(scope) if scope is not None else None,
        "exp": _epoch(_first(record, ("exp", "expires_at", "expires", "expiry"))),
        "iat": _epoch(_first(record, ("iat", "issued_at", "created", "created_at"))),
    }


_TRUE_TEXT = frozenset({"1", "true", "t", "yes", "y"})


def flag_set(value: Any) -> bool:
    """A stored boolean read as the legacy code reads it: SQL rows give ``1``/``0``, text
    columns ``"1"``/``"true"``; ``0``, ``None``, ``False``, ``""`` and ``"false"`` are unset."""
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if isinstance(value, str):
        return value.strip().lower() in _TRUE_TEXT
    return bool(value)


def dead_record(record: Any) -> bool:
    """A legacy record the lookup returned although the legacy gate would refuse it: a
    revoked flag, or a token of another kind (a refresh token)."""
    if flag_set(field_of(record, "revoked")):
        return True
    kind = _first(record, ("kind", "type", "token_type"))
    return isinstance(kind, str) and kind.lower() not in ("access", "access_token", "bearer")


class Introspector:
    """Answers introspection requests from a gate's view of the tokens."""

    def __init__(
        self,
        gate: TokenGate[Any],
        authenticate_client: ClientAuthenticator,
        *,
        issuer: str,
        resource: str,
        describe_legacy: LegacyDescriber = describe_legacy_record,
    ) -> None:
        self.gate = gate
        self.authenticate_client = authenticate_client
        self.issuer = issuer
        self.resource = resource
        self.describe_legacy = describe_legacy
        # True when the host vouches for its introspection callers (resource servers).
        self.any_client = False

    def handle(
        self,
        authorization: str | None,
        form: Mapping[str, str],
        authenticate: ClientAuthenticator | None = None,
    ) -> Reply:
        credentials = client_credentials(authorization, form)
        if credentials is None or not self._authenticated(*credentials, authenticate):
            return _unauthorized()
        token = form.get("token")
        if not token:
            return Reply(400, {"error": "invalid_request"}, dict(NO_STORE))
        return Reply(200, self._for_caller(credentials[0], self.introspect(token)), dict(NO_STORE))

    async def handle_async(
        self,
        authorization: str | None,
        form: Mapping[str, str],
        authenticate: Callable[[str, str], Awaitable[bool]] | None = None,
    ) -> Reply:
        """As :meth:`handle`, for async servers: the caller check and the lookup may await."""
        credentials = client_credentials(authorization, form)
        if credentials is None:
            return _unauthorized()
        if authenticate is None:
            allowed = self._authenticated(*credentials)
        else:
            try:
                allowed = await authenticate(*credentials)
            except Exception:
                log.exception("client authentication raised; refusing")
                allowed = False
        if not allowed:
            return _unauthorized()
        token = form.get("token")
        if not token:
            return Reply(400, {"error": "invalid_request"}, dict(NO_STORE))
        answer = await self.introspect_async(token)
        return Reply(200, self._for_caller(credentials[0], answer), dict(NO_STORE))

    def introspect(self, token: str) -> dict[str, Any]:
        try:
            verified, wanted = self._classify(token)
            record = self._legacy_record(token) if wanted else None
            if inspect.isawaitable(record):
                _discard(record)
                log.error("the legacy lookup is async: introspect through handle_async")
                return dict(INACTIVE)
            return self._answer(verified, wanted, refuse_generator(record))
        except TokenRejected:
            pass
        except Exception:  # a broken legacy lookup must not turn into a 500 or a leak
            log.exception("introspection failed; answering inactive")
        return dict(INACTIVE)

    async def introspect_async(self, token: str) -> dict[str, Any]:
        try:
            verified, wanted = self._classify(token)
            record = self._legacy_record(token) if wanted else None
            if inspect.isawaitable(record):
                record = await record
                record = None if record is self.gate.unknown else record
            return self._answer(verified, wanted, refuse_generator(record))
        except TokenRejected:
            pass
        except Exception:
            log.exception("introspection failed; answering inactive")
        return dict(INACTIVE)

    def _classify(self, token: str) -> tuple[VerifiedToken | None, bool]:
        """The verified JWT (or None for an opaque token), and whether to ask the store."""
        if len(token) <= self.gate.verifier.max_length and looks_like_jwt(token):
            return self.gate.verify_jwt(token), self.gate.liveness == "legacy"
        if self.gate.mode != "hybrid":
            raise TokenRejected("opaque_refused")
        return None, True

    def _answer(
        self, verified: VerifiedToken | None, looked_up: bool, record: Any
    ) -> dict[str, Any]:
        if looked_up and (record is None or dead_record(record)):
            return dict(INACTIVE)  # dead for a JWT's legacy record too (liveness "legacy")
        if verified is not None:
            answer = {"active": True, "token_type": "Bearer"}
            answer.update({k: verified.claims[k] for k in _JWT_MEMBERS if k in verified.claims})
            return answer
        return self._opaque(record)

    def _authenticated(
        self, client_id: str, secret: str, authenticate: ClientAuthenticator | None = None
    ) -> bool:
        try:
            return bool((authenticate or self.authenticate_client)(client_id, secret))
        except Exception:
            log.exception("client authentication raised; refusing")
            return False

    def _for_caller(self, caller: str, answer: dict[str, Any]) -> dict[str, Any]:
        """Another client's token is inactive to the caller unless every client may see
        every token: with open dynamic registration anyone is a client, and introspection
        must not become an oracle on other people's tokens (RFC 7662 §4)."""
        if self.any_client or not answer.get("active") or answer.get("client_id") == caller:
            return answer
        return dict(INACTIVE)

    def _opaque(self, record: Any) -> dict[str, Any]:
        described = dict(self.describe_legacy(record) or {})
        exp = described.get("exp")
        if exp is not None and exp <= self.gate.verifier.clock():
            return dict(INACTIVE)
        answer: dict[str, Any] = {
            "active": True,
            "token_type": "Bearer",
            "iss": self.issuer,
            "aud": self.resource,
        }
        answer.update({k: v for k, v in described.items() if v is not None})
        return answer

    def _legacy_record(self, token: str) -> Any:
        lookup = self.gate.legacy_lookup
        if lookup is None:
            return None
        try:
            record = lookup(token)
        except (KeyError, LookupError):
            return None
        return None if record is self.gate.unknown else record


def _unauthorized() -> Reply:
    return Reply(
        401,
        {"error": "invalid_client"},
        {**NO_STORE, "WWW-Authenticate": 'Basic realm="introspection"'},
    )


def _discard(awaitable: Any) -> None:
    close = getattr(awaitable, "close", None)
    if callable(close):
        close()
