"""The access-token and introspection checks (RFC 9068, RFC 8725, RFC 7662).

Like :mod:`migrate.verify.checks`, each function takes what was fetched (the token, its
decoded header and claims, the JWKS keys, an :class:`Answer`) and returns one
:class:`Check`. The claims are read without trusting them; ``token_signature`` is the one
check that verifies, with pyjwt pinned to the header's ``alg`` and the JWK for its ``kid``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jwt

from migrate.verify.checks import (
    PRIVATE_MEMBERS,
    Check,
    decode_base64url,
    failed,
    passed,
    skipped,
    warned,
)
from migrate.verify.client import Answer, FlowError, Grant, RegistrationUnavailable

ALLOWED_ALGS = ("RS256", "PS256", "ES256", "EdDSA")
# Header members that let a token choose its own key (RFC 8725 §3.10), or demand unknown rules.
FORBIDDEN_HEADER_MEMBERS = ("jku", "jwk", "x5u", "x5c", "crit")
TYP_VALUES = ("at+jwt", "application/at+jwt")
MAX_LIFETIME = 3600  # seconds: the legacy tokens' lifetime in the contract
LEEWAY = 60  # seconds of clock skew allowed (STANDARDS.md)


def decode_segment(segment: str) -> dict[str, Any] | None:
    """A JWT segment as a JSON object, or None."""
    raw = decode_base64url(segment)
    try:
        value = json.loads(raw) if raw is not None else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def token_obtained(outcome: Grant | FlowError) -> Check:
    """A token came from registration, PKCE S256 authorization and the code exchange."""
    if isinstance(outcome, RegistrationUnavailable):
        return warned("token.obtain", f"no token, so the token checks are skipped: {outcome}")
    if isinstance(outcome, FlowError):
        return failed("token.obtain", str(outcome))
    return passed(
        "token.obtain",
        f"registered client {outcome.client.client_id}, authorization code with PKCE S256, "
        f"token endpoint took {outcome.auth_method}",
    )


def token_format(token: str) -> Check:
    """The access token is a JWS compact JWT: three segments, a JSON header (``eyJ``)."""
    parts = token.split(".")
    if len(parts) == 5:
        return failed("token.format", "the access token is a JWE: expected a signed JWT (JWS)")
    if len(parts) != 3 or not token.startswith("eyJ") or decode_segment(parts[0]) is None:
        dots = "no dots" if len(parts) == 1 else f"{len(parts)} segments"
        shape = f"{len(token)} characters, {dots}"
        return failed(
            "token.format",
            f"the access token is opaque ({shape}): the migrated server must issue RFC 9068 "
            "JWT access tokens",
        )
    return passed("token.format", "a JWS compact JWT (three base64url segments, eyJ...)")


def key_for(keys: Sequence[Mapping[str, Any]], kid: Any) -> Mapping[str, Any] | None:
    return next((key for key in keys if isinstance(kid, str) and key.get("kid") == kid), None)


def token_header(header: Mapping[str, Any], keys: Sequence[Mapping[str, Any]]) -> Check:
    """``alg`` allowed, a ``kid`` published in the JWKS with the same ``alg``."""
    alg, kid = header.get("alg"), header.get("kid")
    problems = [] if alg in ALLOWED_ALGS else [f"alg {alg!r} is not one of {ALLOWED_ALGS}"]
    problems += [f"header has {name}" for name in FORBIDDEN_HEADER_MEMBERS if name in header]
    key = key_for(keys, kid)
    if not isinstance(kid, str):
        problems.append("no kid (RFC 9068 §2.1)")
    elif key is None:
        problems.append(f"kid {kid} is not in the JWKS")
    elif key.get("alg") not in (None, alg):
        problems.append(f"alg {alg!r} differs from the JWK's {key.get('alg')!r}")
    if problems:
        return failed("token.header", "; ".join(problems) + " (RFC 9068 §2.1, RFC 8725 §3.1)")
    return passed("token.header", f"alg {alg}, kid {kid} published in the JWKS")


def token_typ(header: Mapping[str, Any]) -> Check:
    """``typ: at+jwt`` keeps the token from being mistaken for another kind of JWT."""
    typ = header.get("typ")
    if typ in TYP_VALUES:
        return passed("token.typ", f"typ {typ}")
    return warned(
        "token.typ",
        f'typ is {typ!r}, not "at+jwt": the token can be confused with other JWTs '
        "(RFC 9068 §2.1, RFC 8725 §3.11)",
    )


def token_signature(
    token: str, header: Mapping[str, Any], keys: Sequence[Mapping[str, Any]]
) -> Check:
    """pyjwt, pinned to the header's ``alg`` and given the JWK for its ``kid``, verifies it."""
    alg, key = header.get("alg"), key_for(keys, header.get("kid"))
    if alg not in ALLOWED_ALGS or key is None:
        return skipped("token.signature", "needs an allowed alg and a published kid (token.header)")
    # Only the public members: a leaked private key (jwks.private_members) would load as a
    # private key object, which cannot verify.
    public = {name: value for name, value in key.items() if name not in PRIVATE_MEMBERS}
    try:
        jwt.PyJWS().decode(token, jwt.PyJWK(public, str(alg)), algorithms=[str(alg)])
    except (jwt.PyJWTError, ValueError, TypeError) as problem:  # a malformed JWK is a FAIL too
        return failed("token.signature", f"pyjwt ({alg}, kid {key['kid']}) refused it: {problem}")
    return passed("token.signature", f"verifies with {alg} and the JWK {key['kid']}")


@dataclass(frozen=True)
class Expected:
    """What the claims must say: the metadata issuer, this resource, the client that asked."""

    issuer: str
    audiences: tuple[str, ...]
    client_id: str


def token_claims(claims: Mapping[str, Any], expected: Expected, now: float) -> Check:
    """RFC 9068 §2.2 claims: exact ``iss``, ``aud`` for this resource, the client, times."""
    problems = [*_identity_problems(claims, expected), *_time_problems(claims, now)]
    if problems:
        return failed("token.claims", "; ".join(problems) + " (RFC 9068 §2.2, §4)")
    return passed(
        "token.claims",
        f"iss, aud {claims['aud']}, sub {claims['sub']}, client_id, scope "
        f"{claims['scope']!r}, iat, exp",
    )


def _identity_problems(claims: Mapping[str, Any], expected: Expected) -> list[str]:
    problems = []
    if claims.get("iss") != expected.issuer:
        problems.append(f'iss {claims.get("iss")!r} is not the issuer "{expected.issuer}"')
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if not any(audience in expected.audiences for audience in audiences):
        problems.append(f"aud {aud!r} names none of {list(expected.audiences)} (RFC 8707)")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        problems.append(f"sub is {claims.get('sub')!r}")
    if claims.get("client_id") != expected.client_id:
        problems.append(f"client_id {claims.get('client_id')!r} is not {expected.client_id!r}")
    if not isinstance(claims.get("scope"), str):
        problems.append(f"scope {claims.get('scope')!r} is not a space-separated string")
    return problems


def _seconds(value: Any) -> float | None:
    """A NumericDate claim as a number, or None (bool is not a number here)."""
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if numeric else None


def _time_problems(claims: Mapping[str, Any], now: float) -> list[str]:
    iat, exp = _seconds(claims.get("iat")), _seconds(claims.get("exp"))
    if iat is None or exp is None:
        return [f"iat {claims.get('iat')!r} and exp {claims.get('exp')!r} must both be numbers"]
    problems = [] if exp > now - LEEWAY else [f"exp {claims['exp']} has passed"]
    nbf = _seconds(claims.get("nbf")) or iat
    if max(iat, nbf) > now + LEEWAY:
        problems.append("iat or nbf lies in the future")
    return problems


def token_lifetime(claims: Mapping[str, Any]) -> Check:
    """``exp - iat`` at most the legacy lifetime (3600 s)."""
    iat, exp = _seconds(claims.get("iat")), _seconds(claims.get("exp"))
    if iat is None or exp is None:
        return skipped("token.lifetime", "no numeric iat and exp (token.claims)")
    lifetime = int(exp - iat)
    if lifetime > MAX_LIFETIME:
        return warned("token.lifetime", f"{lifetime} s, over {MAX_LIFETIME} s: longer exposure")
    return passed("token.lifetime", f"{lifetime} s")


def token_jti(claims: Mapping[str, Any]) -> Check:
    """A ``jti`` makes each token revocable by id after finalize."""
    if isinstance(claims.get("jti"), str) and claims["jti"]:
        return passed("token.jti", "jti present")
    return warned("token.jti", "no jti: revoking one JWT after finalize needs it (RFC 9068 §2.2)")


def mcp_token_accepted(answer: Answer) -> Check:
    """The MCP endpoint accepts the fresh token for ``initialize``."""
    if answer.status == 200:
        return passed("mcp.token_accepted", "POST /mcp initialize with the token: 200")
    return failed("mcp.token_accepted", f"the fresh token was refused: {answer.describe()}")


# -- RFC 7662 introspection --------------------------------------------------------------

INTROSPECTION_MEMBERS = ("sub", "client_id", "scope", "exp", "iss", "aud")


def introspection_of_token(answer: Answer, claims: Mapping[str, Any]) -> Check:
    """The fresh JWT introspects active, with members that agree with its claims."""
    body = answer.json_object()
    if answer.status != 200 or body is None or body.get("active") is not True:
        return failed("introspect.token", f"the fresh JWT is not active: {answer.describe()}")
    missing = [name for name in INTROSPECTION_MEMBERS if name not in body]
    differ = [
        n for n in ("sub", "client_id", "iss", "exp") if n in body and body[n] != claims.get(n)
    ]
    problems = [f"{', '.join(missing)} missing"] if missing else []
    problems += [f"{name} {body[name]!r} differs from the JWT's" for name in differ]
    if problems:
        return failed("introspect.token", "; ".join(problems) + " (RFC 7662 §2.2)")
    return passed("introspect.token", "active; sub, client_id, scope, exp, iss, aud as in the JWT")


def introspection_of_garbage(answer: Answer) -> Check:
    """A made-up token gets exactly ``{"active": false}``."""
    if answer.status == 200 and answer.json_object() == {"active": False}:
        return passed("introspect.inactive", 'a made-up token: exactly {"active": false}')
    return failed(
        "introspect.inactive",
        f'a made-up token must get exactly {{"active": false}} (RFC 7662 §2.2): '
        f"{answer.describe()}",
    )


def introspection_requires_auth(anonymous: Answer, wrong_secret: Answer | None) -> Check:
    """Callers without client credentials, or with a wrong secret, get 401 (RFC 7662 §2.1)."""
    check_id = "introspect.requires_auth"
    answers = [anonymous] if wrong_secret is None else [anonymous, wrong_secret]
    refused = [a for a in answers if a.status != 401]
    if not refused:
        also = "" if wrong_secret is None else " and with a wrong secret"
        return passed(check_id, f"401 without client credentials{also}")
    if all(_invalid_client_400(answer) for answer in refused):
        return warned(
            check_id, f"400 invalid_client where 401 is expected: {refused[0].describe()}"
        )
    return failed(
        check_id,
        "introspection MUST authenticate its callers (RFC 7662 §2.1), but: "
        + "; ".join(answer.describe() for answer in refused),
    )


def _invalid_client_400(answer: Answer) -> bool:
    return answer.status == 400 and (answer.json_object() or {}).get("error") == "invalid_client"
