"""The reference decision for an access token: PyJWT plus the rules PyJWT leaves to callers.

    jwt.decode(token, key=<our public key for the header kid>, algorithms=["RS256"],
               issuer=ISSUER, audience=[RESOURCE], leeway=LEEWAY,
               options={"require": ["iss", "sub", "aud", "exp", "iat", "client_id", "jti"]})

plus, each stated in shims/verifier.py:

- header ``typ`` is the string ``at+jwt`` or ``application/at+jwt`` (RFC 9068 §2.1);
- none of the headers ``jku``, ``jwk``, ``x5u``, ``x5c``, ``crit``, ``b64`` (RFC 8725 §3.10);
- ``kid`` is a string naming a key in our ring;
- ``client_id`` is a string (RFC 9068 §2.2, RFC 8693 §4.3; PyJWT does not type it);
- the token is at most MAX_TOKEN_LENGTH characters (bounded work on hostile input).
"""

from __future__ import annotations

import jwt

from shims.keys import KeyRing
from shims.verifier import ACCEPTED_TYP, FORBIDDEN_HEADERS, MAX_TOKEN_LENGTH

from .forge import ISSUER, LEEWAY, REQUIRED_CLAIMS, RESOURCE


def oracle(token: str, ring: KeyRing) -> tuple[bool, str]:
    """(accepted, why) by PyJWT plus the documented extra rules."""
    if len(token) > MAX_TOKEN_LENGTH:
        return False, "length cap"
    try:
        header = jwt.get_unverified_header(token)
    except Exception as exc:
        return False, f"header: {type(exc).__name__}: {exc}"
    typ = header.get("typ")
    if not isinstance(typ, str) or typ not in ACCEPTED_TYP:
        return False, "typ"
    if FORBIDDEN_HEADERS.intersection(header):
        return False, "forbidden header"
    kid = header.get("kid")
    if not isinstance(kid, str) or kid not in ring.by_kid:
        return False, "kid"
    try:
        claims = jwt.decode(
            token,
            key=ring.by_kid[kid].public_key,
            algorithms=["RS256"],
            issuer=ISSUER,
            audience=[RESOURCE],
            leeway=LEEWAY,
            options={"require": list(REQUIRED_CLAIMS)},
        )
    except Exception as exc:
        return False, f"pyjwt: {type(exc).__name__}: {exc}"
    if not isinstance(claims.get("client_id"), str):
        return False, "client_id type"
    return True, "accepted"
