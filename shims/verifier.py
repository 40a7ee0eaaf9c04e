"""RFC 9068 access-token verification, pinned to RS256 and to our own keys.

Why not ``jwt.decode`` on every request: it spends about two RSA verifies' worth of Python
around the one RSA verify that matters. This verifier makes the same decisions (a
differential test holds it to ``jwt.decode`` with the same options) and adds what PyJWT
leaves out (RFC 9068 §4, RFC 8725 §3): the ``typ`` check, refusal of ``jku``, ``jwk``,
``x5u``, ``x5c``, ``crit`` and ``b64`` headers, keys looked up by ``kid`` in our key set only, a
length cap before any decoding. The header segment of our tokens is the same for every
token a key signs, so its parse is cached; payloads are never cached here.
"""

from __future__ import annotations

import binascii
import json
import time
from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .keys import KeyRing

ALGORITHM = "RS256"
ACCEPTED_TYP = frozenset({"at+jwt", "application/at+jwt"})
# b64 (RFC 7797) changes what is signed; crit names extensions we do not implement.
FORBIDDEN_HEADERS = frozenset({"jku", "jwk", "x5u", "x5c", "crit", "b64"})
# The order _check_claims unpacks them in.
REQUIRED_CLAIMS = ("iss", "sub", "aud", "exp", "iat", "client_id", "jti")
MAX_TOKEN_LENGTH = 8192
MAX_LEEWAY = 60.0

_PKCS1 = padding.PKCS1v15()
_SHA256 = hashes.SHA256()
_HEADER_CACHE_SIZE = 64


class TokenRejected(Exception):
    """The token is not a valid access token here; ``reason`` is a short metric label."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason


@dataclass(slots=True)
class VerifiedToken:
    """A token whose signature and claims passed, with the fields the gate reads often.

    The properties give the claims in the shapes legacy records use, so a finalized gate
    can rebuild its record in one readable expression (``exp_iso``, ``scopes``, ...).
    """

    token: str
    claims: dict[str, Any]
    kid: str
    exp: float
    jti: str
    client_id: str
    subject: str

    @property
    def sub(self) -> str:
        return self.subject

    @property
    def scope(self) -> str:
        value = self.claims.get("scope", "")
        return value if isinstance(value, str) else ""

    @property
    def scopes(self) -> list[str]:
        return self.scope.split()

    @property
    def aud(self) -> str:
        value = self.claims.get("aud")
        return value if isinstance(value, str) else (value or [""])[0]

    @property
    def iat(self) -> int:
        return int(self.claims["iat"])

    @property
    def exp_iso(self) -> str:
        """``exp`` as an aware UTC ISO-8601 string."""
        return datetime.fromtimestamp(self.exp, tz=UTC).isoformat()

    @property
    def exp_iso_naive(self) -> str:
        """``exp`` as a naive local-time ISO-8601 string (``datetime.now().isoformat()``)."""
        return datetime.fromtimestamp(self.exp).isoformat()

    @property
    def exp_datetime(self) -> datetime:
        return datetime.fromtimestamp(self.exp, tz=UTC)

    @property
    def exp_datetime_naive(self) -> datetime:
        return datetime.fromtimestamp(self.exp)

    @property
    def iat_iso(self) -> str:
        return datetime.fromtimestamp(self.iat, tz=UTC).isoformat()

    @property
    def iat_iso_naive(self) -> str:
        return datetime.fromtimestamp(self.iat).isoformat()


# base64url to the standard alphabet, in C. "+" and "/" are not base64url: they become "*",
# which a2b_base64's strict mode refuses, so no separate scan for them is needed.
_TO_STANDARD = bytes.maketrans(b"-_+/", b"+/**")
# For a segment whose length is 2 or 3 modulo 4, the low bits of its last character carry
# no data; canonical encodings keep them zero (4 bits for 2 extra chars, 2 bits for 3).
_UNUSED_BITS = (0, 0, 0b1111, 0b11)
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_PADDING = ("", "", "==", "=")


def b64url_decode(segment: str) -> bytes:
    """Strict base64url, as PyJWT 2.15 reads a segment: up to two ``=``, canonical bits."""
    if segment[-1:] == "=":
        return _b64url_decode_padded(segment)
    extra = len(segment) % 4
    # Non-zero unused bits would let one token have several spellings; a last character
    # outside the alphabet (find gives -1) is refused here too.
    if extra == 1 or _ALPHABET.find(segment[-1:] or "A") & _UNUSED_BITS[extra]:
        raise TokenRejected("malformed", "bad base64url length or non-canonical bits")
    try:
        # str.translate costs several microseconds per signature; bytes.translate runs in C.
        # encode("ascii") refuses non-ASCII; strict mode refuses anything else off-alphabet.
        standard = (segment + _PADDING[extra]).encode("ascii").translate(_TO_STANDARD)
        return binascii.a2b_base64(standard, strict_mode=True)
    except (binascii.Error, ValueError):  # UnicodeEncodeError is a ValueError
        raise TokenRejected("malformed", "not base64url") from None


def _b64url_decode_padded(segment: str) -> bytes:
    # Padding is optional in base64url; when present it must be complete (RFC 4648 3.2).
    stripped = segment.rstrip("=")
    if len(segment) - len(stripped) > 2 or len(segment) % 4:
        raise TokenRejected("malformed", "bad base64url padding")
    return b64url_decode(stripped)


# json.loads without its two whitespace regexes: the C scanner it calls, on text that
# opens with "{" (no leading whitespace); anything after the object goes to json.loads.
# (an instance attribute typeshed does not declare, hence vars()).
_scan_json: Callable[[str, int], tuple[Any, int]] = vars(json.JSONDecoder())["scan_once"]


def parse_json_object(raw: bytes, what: str) -> dict[str, Any]:
    """The JSON object in ``raw``, decided as ``json.loads`` decides; else TokenRejected."""
    try:
        # json.loads(bytes) first guesses among UTF-8/16/32; bytes opening with "{" and a
        # non-NUL byte are UTF-8 to it, so decoding them here gives the same answer faster.
        if raw[:1] == b"{" and raw[1:2] != b"\x00":
            text = raw.decode("utf-8")
            value, end = _scan_json(text, 0)
            if end != len(text):  # trailing text: json.loads decides, whitespace or not
                value = json.loads(text)
        else:
            value = json.loads(raw)
    except (ValueError, RecursionError, StopIteration):
        # The scanner raises StopIteration or ValueError where json.loads raises ValueError.
        raise TokenRejected("malformed", f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise TokenRejected("malformed", f"{what} is not a JSON object")
    return value


def looks_like_jwt(token: str, known_headers: Container[str] = ()) -> bool:
    """RFC 9068 classification by shape: three segments and a JSON-object header.

    ``known_headers`` are header segments already parsed (our own tokens share one)."""
    return is_jwt_shaped(token.split("."), known_headers)


def is_jwt_shaped(segments: list[str], known_headers: Container[str] = ()) -> bool:
    """:func:`looks_like_jwt` for a token already split on dots."""
    if len(segments) != 3:
        return False
    if segments[0] in known_headers:
        return True
    try:
        parse_json_object(b64url_decode(segments[0]), "header")
    except TokenRejected:
        return False
    return True


class JwtVerifier:
    """Checks a compact JWS against our key ring, issuer and audiences."""

    def __init__(
        self,
        keyring: KeyRing,
        *,
        issuer: str,
        audiences: Iterable[str],
        leeway: float = 30.0,
        max_length: int = MAX_TOKEN_LENGTH,
        clock: Callable[[], float] = time.time,
        reload_keys: Callable[[], bool] | None = None,
    ) -> None:
        if not 0 <= leeway <= MAX_LEEWAY:
            raise ValueError(f"leeway must be between 0 and {MAX_LEEWAY:.0f} seconds")
        self.issuer = issuer
        self.audiences = frozenset(audiences)
        if not self.audiences:
            raise ValueError("at least one accepted audience is required")
        self.leeway = leeway
        self.max_length = max_length
        self.clock = clock
        # Called on an unknown kid: a rotation may have published a key since we loaded.
        self.reload_keys = reload_keys
        self._headers: dict[str, tuple[str, rsa.RSAPublicKey]] = {}
        self.keyring = keyring

    @property
    def keyring(self) -> KeyRing:
        return self._keyring

    @keyring.setter
    def keyring(self, ring: KeyRing) -> None:
        self._keyring = ring
        self._headers = {}

    @property
    def known_headers(self) -> Container[str]:
        """Header segments that parsed and named one of our keys."""
        return self._headers

    def verify(self, token: str) -> VerifiedToken:
        """The verified token; raises TokenRejected (its ``reason`` a metric label)."""
        if len(token) > self.max_length:
            raise TokenRejected("too_long")
        return self.verify_segments(token, token.split("."))

    def verify_segments(self, token: str, segments: list[str]) -> VerifiedToken:
        """:meth:`verify` for ``token`` already split on dots (the gate splits it once to
        classify it: a split looks at every character, about 4,000 instructions here).

        ``segments`` must be ``token.split(".")``: the signature is checked over the
        token's own text, and the claims are read from ``segments``."""
        if len(token) > self.max_length:
            raise TokenRejected("too_long")
        if len(segments) != 3:
            raise TokenRejected("malformed", "not three segments")
        if not token.isascii():
            raise TokenRejected("malformed", "not ASCII")
        header_segment, payload_segment, signature_segment = segments
        kid, key = self._key_for(header_segment)
        signature = b64url_decode(signature_segment)
        signing_input = token[: len(header_segment) + 1 + len(payload_segment)]
        try:
            key.verify(signature, signing_input.encode("ascii"), _PKCS1, _SHA256)
        except InvalidSignature:
            raise TokenRejected("signature") from None
        claims = parse_json_object(b64url_decode(payload_segment), "payload")
        return self._check_claims(token, kid, claims)

    def _key_for(self, header_segment: str) -> tuple[str, rsa.RSAPublicKey]:
        cached = self._headers.get(header_segment)
        if cached is not None:
            return cached
        header = parse_json_object(b64url_decode(header_segment), "header")
        found = self._check_header(header)
        if len(self._headers) >= _HEADER_CACHE_SIZE:
            self._headers.clear()
        self._headers[header_segment] = found
        return found

    def _check_header(self, header: dict[str, Any]) -> tuple[str, rsa.RSAPublicKey]:
        if header.get("alg") != ALGORITHM:
            raise TokenRejected("alg")
        typ = header.get("typ")
        # isinstance first: a list or object here is unhashable and would raise TypeError.
        if not isinstance(typ, str) or typ not in ACCEPTED_TYP:
            raise TokenRejected("typ")
        if FORBIDDEN_HEADERS.intersection(header):
            raise TokenRejected("forbidden_header")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise TokenRejected("unknown_kid", "no kid")
        key = self._keyring.by_kid.get(kid)
        if key is None and self.reload_keys is not None and self.reload_keys():
            key = self._keyring.by_kid.get(kid)
        if key is None:
            raise TokenRejected("unknown_kid")
        return kid, key.public_key

    def _check_claims(self, token: str, kid: str, claims: dict[str, Any]) -> VerifiedToken:
        values = tuple(map(claims.get, REQUIRED_CLAIMS))
        if None in values:
            raise TokenRejected("missing_claim", REQUIRED_CLAIMS[values.index(None)])
        iss, subject, aud, exp_value, iat_value, client_id, jti = values
        now = self.clock()
        exp = _numeric(exp_value, "exp")
        if exp <= now - self.leeway:
            raise TokenRejected("expired")
        if _numeric(iat_value, "iat") > now + self.leeway:
            raise TokenRejected("not_yet_valid", "iat")
        if "nbf" in claims and _numeric(claims["nbf"], "nbf") > now + self.leeway:
            raise TokenRejected("not_yet_valid", "nbf")
        if iss != self.issuer:
            raise TokenRejected("issuer")
        self._check_audience(aud)
        if not isinstance(subject, str) or not isinstance(jti, str):
            raise TokenRejected("claims", "sub and jti must be strings")
        if not isinstance(client_id, str):
            raise TokenRejected("claims", "client_id must be a string")
        return VerifiedToken(token, claims, kid, exp, jti, client_id, subject)

    def _check_audience(self, aud: Any) -> None:
        if isinstance(aud, str):
            if aud not in self.audiences:
                raise TokenRejected("audience")
            return
        values = aud
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise TokenRejected("audience", "aud must be a string or a list of strings")
        if self.audiences.isdisjoint(values):
            raise TokenRejected("audience")


def _numeric(value: Any, name: str) -> int:
    if type(value) is int:  # what we mint: skip the general conversion below
        return value
    # int() as PyJWT does, so both accept and refuse the same NumericDate spellings.
    try:
        return int(value)
    except (ValueError, TypeError, OverflowError):
        raise TokenRejected("claims", f"{name} is not a NumericDate") from None
