"""The attack battery: hostile tokens that every gate mode and adapter must refuse.

Each attack is a function of a :class:`Forge` giving the token, and whether the token is
JWT-shaped (three segments whose header is a JSON object: RFC 9068 classification). A
JWT-shaped token that fails verification must never reach the legacy lookup; the others
are opaque by shape and go to the legacy lookup in the hybrid mode, which does not know
them either.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization

from shims.keys import thumbprint

from .forge import (
    DROP,
    ISSUER,
    LEEWAY,
    OTHER_AUDIENCE,
    REQUIRED_CLAIMS,
    RESOURCE,
    Forge,
    b64url,
    b64url_decode,
    hs256,
    json_segment,
    segments,
)


@dataclass(frozen=True)
class Attack:
    build: Callable[[Forge], str]
    jwt_shaped: bool = True


def _alg_none(alg: str, keep_signature: bool) -> Callable[[Forge], str]:
    def build(forge: Forge) -> str:
        claims = forge.claims()
        original = forge.token(claims)
        signing_input = forge.signing_input(claims, forge.header(alg=alg))
        return f"{signing_input}.{segments(original)[2] if keep_signature else ''}"

    return build


def _public_secret(shape: str, forge: Forge) -> bytes:
    public = forge.signer.public_key
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    n = public.public_numbers().n
    return {
        "pem_spki": pem,
        "pem_spki_no_final_newline": pem.rstrip(b"\n"),
        "der_spki": public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "pem_pkcs1": public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
        ),
        "raw_n_bytes": n.to_bytes((n.bit_length() + 7) // 8, "big"),
        "n_string": forge.signer.public_jwk["n"].encode("ascii"),
        "jwk_json": json.dumps(forge.signer.public_jwk).encode("utf-8"),
    }[shape]


def _hs256_with_public_key(shape: str) -> Callable[[Forge], str]:
    def build(forge: Forge) -> str:
        signing_input = forge.signing_input(forge.claims(), forge.header(alg="HS256"))
        return f"{signing_input}.{hs256(_public_secret(shape, forge), signing_input)}"

    return build


def _payload_swapped(**changes: object) -> Callable[[Forge], str]:
    def build(forge: Forge) -> str:
        header, _, signature = segments(forge.valid())
        return f"{header}.{json_segment(forge.claims(**changes))}.{signature}"

    return build


def _flipped_signature_bit(forge: Forge) -> str:
    header, payload, signature = segments(forge.valid())
    raw = bytearray(b64url_decode(signature))
    raw[len(raw) // 2] ^= 0x01
    return f"{header}.{payload}.{b64url(bytes(raw))}"


def _signed(
    *, claims: dict[str, object] | None = None, header: dict[str, object] | None = None
) -> Callable[[Forge], str]:
    """Signed with OUR active key, so only the named change can make it fail."""

    def build(forge: Forge) -> str:
        return forge.token(forge.claims(**(claims or {})), forge.header(**(header or {})))

    return build


def _foreign_reusing_kid(forge: Forge) -> str:
    return forge.token(key=forge.foreign)


def _foreign_with_embedded_jwk(forge: Forge) -> str:
    from jwt.algorithms import RSAAlgorithm

    public = forge.foreign.public_key()
    jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
    header = forge.header(kid=thumbprint(public), jwk=jwk)
    return forge.token(header=header, key=forge.foreign)


def _foreign_jwk_with_our_kid(forge: Forge) -> str:
    from jwt.algorithms import RSAAlgorithm

    jwk = RSAAlgorithm.to_jwk(forge.foreign.public_key(), as_dict=True)
    return forge.token(header=forge.header(jwk=jwk), key=forge.foreign)


def _relative(claim: str, offset: int) -> Callable[[Forge], str]:
    def build(forge: Forge) -> str:
        return forge.valid(**{claim: int(time.time()) + offset})

    return build


def _huge(forge: Forge) -> str:
    return forge.valid(padding="x" * 100_000)


def _junk_after_header(forge: Forge) -> str:
    return f"{json_segment(forge.header())}.%%%%.****"


def _json_array_header(forge: Forge) -> str:
    _, payload, signature = segments(forge.valid())
    return f"{json_segment(['RS256', 'at+jwt'])}.{payload}.{signature}"


def _non_ascii_in(position: int) -> Callable[[Forge], str]:
    def build(forge: Forge) -> str:
        parts = segments(forge.valid())
        parts[position] = parts[position][:8] + "é" + parts[position][8:]
        return ".".join(parts)

    return build


ATTACKS: dict[str, Attack] = {
    **{
        f"alg_{alg}_{'original_sig' if keep else 'empty_sig'}": Attack(_alg_none(alg, keep))
        for alg in ("none", "None", "NONE")
        for keep in (False, True)
    },
    **{
        f"hs256_public_key_as_{shape}": Attack(_hs256_with_public_key(shape))
        for shape in (
            "pem_spki",
            "pem_spki_no_final_newline",
            "der_spki",
            "pem_pkcs1",
            "raw_n_bytes",
            "n_string",
            "jwk_json",
        )
    },
    "payload_aud_changed_under_old_signature": Attack(_payload_swapped(aud=OTHER_AUDIENCE)),
    "payload_sub_changed_under_old_signature": Attack(_payload_swapped(sub="admin")),
    "payload_exp_changed_under_old_signature": Attack(
        _payload_swapped(exp=int(time.time()) + 10 * 365 * 86400)
    ),
    "flipped_signature_bit": Attack(_flipped_signature_bit),
    "unknown_kid": Attack(_signed(header={"kid": b64url(secrets.token_bytes(32))})),
    "missing_kid": Attack(_signed(header={"kid": DROP})),
    "kid_not_a_string": Attack(_signed(header={"kid": ["x"]})),
    "foreign_key_reusing_our_kid": Attack(_foreign_reusing_kid),
    "foreign_key_with_embedded_jwk": Attack(_foreign_with_embedded_jwk),
    "foreign_jwk_header_with_our_kid": Attack(_foreign_jwk_with_our_kid),
    "jku_header": Attack(_signed(header={"jku": "https://attacker.example/jwks.json"})),
    "x5u_header": Attack(_signed(header={"x5u": "https://attacker.example/cert.pem"})),
    "x5c_header": Attack(_signed(header={"x5c": ["MIIB"]})),
    "crit_header": Attack(_signed(header={"crit": ["exp"]})),
    "b64_header": Attack(_signed(header={"b64": True})),
    "expired_beyond_leeway": Attack(_relative("exp", -LEEWAY - 120)),
    "nbf_in_the_future": Attack(_relative("nbf", LEEWAY + 300)),
    "iat_in_the_future": Attack(_relative("iat", LEEWAY + 300)),
    "wrong_iss": Attack(_signed(claims={"iss": "https://evil.example.test"})),
    "iss_with_trailing_slash": Attack(_signed(claims={"iss": ISSUER + "/"})),
    "wrong_aud": Attack(_signed(claims={"aud": OTHER_AUDIENCE})),
    "aud_with_trailing_slash": Attack(_signed(claims={"aud": RESOURCE + "/"})),
    "typ_JWT": Attack(_signed(header={"typ": "JWT"})),
    "typ_missing": Attack(_signed(header={"typ": DROP})),
    "typ_a_list": Attack(_signed(header={"typ": ["at+jwt"]})),
    "typ_an_object": Attack(_signed(header={"typ": {"at+jwt": True}})),
    **{f"missing_{claim}": Attack(_signed(claims={claim: DROP})) for claim in REQUIRED_CLAIMS},
    "token_of_100_kb": Attack(_huge),
    "junk_base64_segments": Attack(lambda forge: "!!!!.@@@@.####", jwt_shaped=False),
    "three_non_json_segments": Attack(lambda forge: "abcd.efgh.ijkl", jwt_shaped=False),
    "junk_after_a_valid_header": Attack(_junk_after_header),
    "json_array_header": Attack(_json_array_header, jwt_shaped=False),
    "non_ascii_in_payload": Attack(_non_ascii_in(1)),
    "non_ascii_in_signature": Attack(_non_ascii_in(2)),
    "non_ascii_token": Attack(lambda forge: "tøkén-ünïcödé", jwt_shaped=False),
}
