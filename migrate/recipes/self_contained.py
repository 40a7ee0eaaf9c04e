"""A hand-written server whose access tokens are already self-contained (#12 item 9).

A token the server signs itself (``jwt.encode``, an ``hmac`` tag, an ``itsdangerous``
serializer) carries its claims and needs no store lookup: there is no opaque token to
migrate, and rewriting its mint would throw away a working format. The plan says so, at
the mint's file:line, writes nothing (exit 0: nothing for the kit to do), and lists what
the kit would otherwise add, for the operator to do by hand. The metadata is not
wrapped either: advertising the kit's JWKS and introspection beside tokens they cannot
verify would mislead every client.
"""

from __future__ import annotations

import libcst as cst

from migrate.recipes.base import Contribution
from migrate.scan.findings import Finding
from migrate.scan.syntax import string_value, walk
from migrate.scan.token_flow import Origin

# Algorithms whose verifying key can be published (RFC 7518 §3.1): RSA, RSA-PSS, EC, EdDSA.
ASYMMETRIC = ("RS", "PS", "ES", "EdDSA")
NOTE = "Access tokens are already self-contained"


def describe(origin: Origin) -> str:
    return f"access token already self-contained ({origin.via}): no opaque token to migrate"


def contribution(origins: list[Origin], findings: list[Finding]) -> Contribution:
    """No edit; the findings, and one note naming what would still be worth adding."""
    out = Contribution(findings=list(findings))
    places = ", ".join(f"{o.where} ({o.via})" for o in origins)
    out.notes.append(
        f"{NOTE} at {places}: there is no opaque token "
        "to migrate, and apply writes nothing. What the kit would still add, by hand: "
        + "; ".join(_still_to_add(origins))
        + "."
    )
    return out


def _still_to_add(origins: list[Origin]) -> list[str]:
    algorithms = {a for o in origins if (a := _algorithm(o))}
    if algorithms and all(a.startswith(ASYMMETRIC) for a in algorithms):
        keys = "a JWKS (RFC 7517) of the signing key's public half, named by jwks_uri"
    else:
        keys = (
            "a JWKS only once tokens are signed with an asymmetric key (RS256, ES256): a "
            "shared secret (HS256, an HMAC tag, itsdangerous) can be checked by this server "
            "alone and must never be published"
        )
    return [
        keys,
        "RFC 7662 introspection, so resource servers without the key can ask",
        "RFC 9728 protected-resource metadata and a 401 challenge naming it "
        "(resource_metadata), and the matching members of the RFC 8414 metadata",
    ]


def _algorithm(origin: Origin) -> str | None:
    """The ``algorithm=`` literal of a ``jwt.encode(...)`` call in the origin, if any."""
    for node in walk(origin.expression):
        if not isinstance(node, cst.Call):
            continue
        for arg in node.args:
            if arg.keyword is not None and arg.keyword.value in ("algorithm", "alg"):
                return string_value(arg.value)
    return None
