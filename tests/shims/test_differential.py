"""The verifier and the gate accept exactly what ``jwt.decode`` accepts, plus RFC 9068 rules.

The reference decision is :func:`tests.shims.oracle.oracle` (PyJWT with every check a careful
server asks for, plus typ, forbidden headers, kid in our ring, client_id a string, the
length cap). Tokens are minted relative to real time and both sides read ``time.time``; no
case sits within a few seconds of a time boundary.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shims.keys import KeyRing
from shims.verifier import MAX_TOKEN_LENGTH, TokenRejected

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
    json_segment,
    rs256,
    segments,
)
from .helpers import UNKNOWN, make_gate, make_verifier
from .oracle import oracle

Builder = Callable[[Forge], str]


def verifier_accepts(token: str, ring: KeyRing) -> bool:
    try:
        make_verifier(ring).verify(token)
    except TokenRejected:
        return False
    return True


def gate_accepts(token: str, ring: KeyRing) -> bool:
    return make_gate(ring, "final").resolve(token) is not UNKNOWN


def check(token: str, ring: KeyRing) -> bool:
    expected, why = oracle(token, ring)
    assert verifier_accepts(token, ring) is expected, f"verifier vs oracle ({why}): {token[:200]}"
    assert gate_accepts(token, ring) is expected, f"gate vs oracle ({why}): {token[:200]}"
    return expected


# -- the corpus --------------------------------------------------------------------------


def _now() -> int:
    return int(time.time())


def _claim(name: str, value: Any) -> Builder:
    return lambda forge: forge.valid(**{name: value})


def _claim_at(name: str, offset: int, *, as_text: bool = False) -> Builder:
    def build(forge: Forge) -> str:
        value = _now() + offset
        return forge.valid(**{name: str(value) if as_text else value})

    return build


def _header(**changes: Any) -> Builder:
    return lambda forge: forge.token(header=forge.header(**changes))


def _other_key(state: str, *, kid_of: str | None = None) -> Builder:
    def build(forge: Forge) -> str:
        key = next(k for k in forge.ring.keys if k.state == state)
        kid = (
            key.kid if kid_of is None else next(k.kid for k in forge.ring.keys if k.state == kid_of)
        )
        assert key.private_key is not None
        return forge.token(header=forge.header(kid=kid), key=key.private_key)

    return build


def _raw(header: bytes | None = None, payload: bytes | None = None) -> Builder:
    """Sign arbitrary header and payload bytes (odd JSON the forge would not write)."""

    def build(forge: Forge) -> str:
        header_segment = b64url(header) if header is not None else json_segment(forge.header())
        payload_segment = b64url(payload) if payload is not None else json_segment(forge.claims())
        return forge.sign_segments(header_segment, payload_segment)

    return build


def _payload_text(template: str) -> Builder:
    """A payload from JSON text with ``{now}``, ``{kid}`` etc. filled in at build time."""

    def build(forge: Forge) -> str:
        text = template.format(now=_now(), exp=_now() + 3600, iss=ISSUER, aud=RESOURCE)
        return _raw(payload=text.encode("utf-8"))(forge)

    return build


def _padded(position: int, pad: str, *, resign: bool = True) -> Builder:
    def build(forge: Forge) -> str:
        parts = segments(forge.valid())
        parts[position] += pad
        if resign and position < 2:
            return forge.sign_segments(parts[0], parts[1])
        return ".".join(parts)

    return build


def _correctly_padded(position: int) -> Builder:
    """Pad a header or payload segment with exactly the '=' it lacks, and sign that text."""

    def build(forge: Forge) -> str:
        header, claims = forge.header(), forge.claims()
        while len(json_segment([header, claims][position])) % 4 == 0:
            (header if position == 0 else claims)["x"] = "a"
        parts = [json_segment(header), json_segment(claims)]
        parts[position] += "=" * (-len(parts[position]) % 4)
        return forge.sign_segments(parts[0], parts[1])

    return build


def _non_canonical(position: int) -> Builder:
    """Change the unused low bits of the last base64url character: same bytes, other text."""

    def build(forge: Forge) -> str:
        header = forge.header()
        claims = forge.claims()
        # Lengths chosen so the segment's last character carries unused bits.
        while len(json_segment(header)) % 4 == 0:
            header["x"] = header.get("x", "") + "a"
        while len(json_segment(claims)) % 4 == 0:
            claims["pad"] = claims.get("pad", "") + "a"
        parts = segments(forge.token(claims, header))
        segment = parts[position]
        if len(segment) % 4 == 0:
            return forge.token(claims, header) + "!"  # not expected: a junk token instead
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        last = alphabet.index(segment[-1])
        parts[position] = segment[:-1] + alphabet[last | 1 if last % 2 == 0 else last & ~1]
        assert b64url_decode(parts[position]) == b64url_decode(segment)
        if position < 2:
            return forge.sign_segments(parts[0], parts[1])
        return ".".join(parts)

    return build


def _edited(edit: Callable[[str], str]) -> Builder:
    return lambda forge: edit(forge.valid())


def _signature(change: Callable[[bytes], bytes]) -> Builder:
    def build(forge: Forge) -> str:
        header, payload, signature = segments(forge.valid())
        return f"{header}.{payload}.{b64url(change(b64url_decode(signature)))}"

    return build


def _sized(length: int) -> Builder:
    def build(forge: Forge) -> str:
        base = len(forge.valid(padding=""))
        # Each padding character adds 4/3 base64 characters; trim to land at `length`.
        token = forge.valid(padding="x" * ((length - base) * 3 // 4))
        while len(token) > length:
            token = forge.valid(
                padding="x" * ((len(token) - base - (len(token) - length)) * 3 // 4 - 1)
            )
        return token

    return build


WEIRD_VALUES: dict[str, Any] = {
    "dropped": DROP,
    "null": None,
    "zero": 0,
    "negative": -1,
    "float": 1.5,
    "true": True,
    "false": False,
    "empty_string": "",
    "string": "x",
    "digit_string": "123",
    "empty_list": [],
    "list_of_resource": [RESOURCE],
    "object": {},
    "huge_int": 10**30,
    "huge_float": 1e308,
    "infinity": float("inf"),
    "nan": float("nan"),
}

CASES: dict[str, Builder] = {
    "valid": lambda forge: forge.valid(),
    "valid_without_scope": _claim("scope", DROP),
    "valid_with_extra_claims": lambda forge: forge.valid(roles=["a"], tenant={"id": 1}),
    **{
        f"{claim}_{label}": _claim(claim, value)
        for claim in (*REQUIRED_CLAIMS, "nbf", "scope")
        for label, value in WEIRD_VALUES.items()
    },
    # Time claims relative to now, away from boundaries.
    **{
        f"{claim}_at_{offset:+d}": _claim_at(claim, offset)
        for claim in ("exp", "iat", "nbf")
        for offset in (-3600, -(LEEWAY + 60), -(LEEWAY // 2), LEEWAY // 2, LEEWAY + 60, 3600)
    },
    "exp_as_digit_string_in_the_future": _claim_at("exp", 3600, as_text=True),
    "exp_as_digit_string_in_the_past": _claim_at("exp", -3600, as_text=True),
    "iat_as_digit_string": _claim_at("iat", -60, as_text=True),
    "exp_as_float_in_the_future": lambda forge: forge.valid(exp=_now() + 3600.75),
    "exp_with_spaces": lambda forge: forge.valid(exp=f" {_now() + 3600} "),
    "exp_fullwidth_digits": lambda forge: forge.valid(
        exp=str(_now() + 3600).translate({ord(d): 0xFF10 + int(d) for d in "0123456789"})
    ),
    # Audiences.
    "aud_list_with_ours": _claim("aud", [OTHER_AUDIENCE, RESOURCE]),
    "aud_list_without_ours": _claim("aud", [OTHER_AUDIENCE]),
    "aud_list_with_a_number": _claim("aud", [RESOURCE, 1]),
    "aud_nested_list": _claim("aud", [[RESOURCE]]),
    "aud_object": _claim("aud", {"aud": RESOURCE}),
    "aud_trailing_slash": _claim("aud", RESOURCE + "/"),
    "aud_upper_case": _claim("aud", RESOURCE.upper()),
    "aud_twice": _claim("aud", [RESOURCE, RESOURCE]),
    "aud_other": _claim("aud", OTHER_AUDIENCE),
    # Issuers.
    "iss_trailing_slash": _claim("iss", ISSUER + "/"),
    "iss_upper_case": _claim("iss", ISSUER.upper()),
    "iss_as_list": _claim("iss", [ISSUER]),
    "iss_leading_space": _claim("iss", " " + ISSUER),
    "iss_with_nul": _claim("iss", ISSUER + "\x00"),
    # Header: typ.
    **{
        f"typ_{label}": _header(typ=value)
        for label, value in {
            "at_jwt": "at+jwt",
            "application_at_jwt": "application/at+jwt",
            "upper": "AT+JWT",
            "jwt": "JWT",
            "empty": "",
            "null": None,
            "dropped": DROP,
            "list": ["at+jwt"],
            "object": {},
            "number": 1,
            "trailing_space": "at+jwt ",
        }.items()
    },
    # Header: alg.
    **{
        f"alg_{label}": _header(alg=value)
        for label, value in {
            "lower": "rs256",
            "rs384": "RS384",
            "hs256": "HS256",
            "none": "none",
            "es256": "ES256",
            "ps256": "PS256",
            "empty": "",
            "null": None,
            "dropped": DROP,
            "list": ["RS256"],
        }.items()
    },
    # Header: kid.
    "kid_of_the_staged_key": _other_key("staged"),
    "kid_of_the_retiring_key": _other_key("retiring"),
    "staged_key_signing_under_active_kid": _other_key("staged", kid_of="active"),
    "active_key_signing_under_retiring_kid": _other_key("active", kid_of="retiring"),
    **{
        f"kid_{label}": _header(kid=value)
        for label, value in {
            "unknown": "A" * 43,
            "dropped": DROP,
            "null": None,
            "number": 1,
            "list": ["x"],
            "empty": "",
        }.items()
    },
    "kid_with_trailing_space": lambda forge: forge.token(
        header=forge.header(kid=forge.signer.kid + " ")
    ),
    "kid_as_list_of_ours": lambda forge: forge.token(header=forge.header(kid=[forge.signer.kid])),
    "foreign_key_under_our_kid": lambda forge: forge.token(key=forge.foreign),
    # Header: other members.
    **{
        f"header_{label}": _header(**members)
        for label, members in {
            "cty": {"cty": "JWT"},
            "x5t": {"x5t": "abc"},
            "x5t_s256": {"x5t#S256": "abc"},
            "custom": {"foo": "bar", "nested": {"a": [1]}},
            "zip": {"zip": "DEF"},
            "jku": {"jku": "https://attacker.example/jwks"},
            "jwk": {"jwk": {"kty": "RSA", "n": "AQAB", "e": "AQAB"}},
            "x5u": {"x5u": "https://attacker.example/cert"},
            "x5c": {"x5c": ["MIIB"]},
            "crit_exp": {"crit": ["exp"]},
            "crit_empty": {"crit": []},
            "crit_b64": {"crit": ["b64"], "b64": True},
            "b64_true": {"b64": True},
            "b64_false": {"b64": False, "crit": ["b64"]},
        }.items()
    },
    # Encoding.
    "padded_header_signed": _padded(0, "=="),
    "padded_payload_signed": _padded(1, "="),
    "padded_signature": _padded(2, "=="),
    "correctly_padded_header": _correctly_padded(0),
    "correctly_padded_payload": _correctly_padded(1),
    "over_padded_signature": _padded(2, "==="),
    "under_padded_signature": _padded(2, "="),
    "padded_header_unsigned": _padded(0, "==", resign=False),
    "non_canonical_header": _non_canonical(0),
    "non_canonical_payload": _non_canonical(1),
    "non_canonical_signature": _non_canonical(2),
    "trailing_newline": _edited(lambda t: t + "\n"),
    "trailing_space": _edited(lambda t: t + " "),
    "leading_space": _edited(lambda t: " " + t),
    "standard_base64_signature": _edited(
        lambda t: (
            t.rpartition(".")[0]
            + "."
            + base64.b64encode(b64url_decode(t.rpartition(".")[2])).decode().rstrip("=")
        )
    ),
    "fourth_segment": _edited(lambda t: t + ".abcd"),
    "empty_signature": _edited(lambda t: t.rpartition(".")[0] + "."),
    "empty_payload": _edited(lambda t: t.split(".")[0] + ".." + t.split(".")[2]),
    "two_segments": _edited(lambda t: t.rpartition(".")[0]),
    # JSON oddities.
    "header_duplicate_alg_none_last": lambda forge: _raw(
        header=b'{"alg":"RS256","typ":"at+jwt","kid":"%s","alg":"none"}' % forge.signer.kid.encode()
    )(forge),
    "header_duplicate_alg_rs256_last": lambda forge: _raw(
        header=b'{"alg":"none","typ":"at+jwt","kid":"%s","alg":"RS256"}' % forge.signer.kid.encode()
    )(forge),
    "header_utf16": lambda forge: _raw(header=json.dumps(forge.header()).encode("utf-16"))(forge),
    "header_bom": lambda forge: _raw(header=b"\xef\xbb\xbf" + json.dumps(forge.header()).encode())(
        forge
    ),
    "payload_duplicate_sub": _payload_text(
        '{{"iss":"{iss}","sub":1,"sub":"u","aud":"{aud}","client_id":"c","iat":{now},"exp":{exp},"jti":"j"}}'
    ),
    "payload_duplicate_exp_expired_last": _payload_text(
        '{{"iss":"{iss}","sub":"u","aud":"{aud}","client_id":"c","iat":{now},"exp":{exp},"exp":1,"jti":"j"}}'
    ),
    "payload_escaped_issuer": lambda forge: _raw(
        payload=json.dumps(forge.claims(), ensure_ascii=True)
        .replace('"https:', '"\\u0068ttps:', 1)
        .encode()
    )(forge),
    "payload_utf16": lambda forge: _raw(payload=json.dumps(forge.claims()).encode("utf-16"))(forge),
    "payload_bom": lambda forge: _raw(
        payload=b"\xef\xbb\xbf" + json.dumps(forge.claims()).encode()
    )(forge),
    "payload_array": _raw(payload=b"[1,2,3]"),
    "payload_null": _raw(payload=b"null"),
    "payload_number": _raw(payload=b"42"),
    "payload_not_json": _raw(payload=b"{not json"),
    "payload_not_utf8": _raw(payload=b'{"sub":"\xff"}'),
    "payload_deep_nesting": lambda forge: _raw(
        payload=json.dumps(forge.claims())[:-1].encode()
        + b',"deep":'
        + b"[" * 2500
        + b"]" * 2500
        + b"}"
    )(forge),
    "payload_5000_digit_exp": _payload_text(
        '{{"iss":"{iss}","sub":"u","aud":"{aud}","client_id":"c","iat":{now},"exp":'
        + "9" * 5000
        + ',"jti":"j"}}'
    ),
    "payload_whitespace": _payload_text(
        ' {{ "iss" : "{iss}" , "sub":"u","aud":"{aud}","client_id":"c",'
        ' "iat":{now},"exp":{exp},"jti":"j" }} \n'
    ),
    # Signatures.
    "signature_bit_flipped": _signature(lambda s: bytes([s[0] ^ 0x80]) + s[1:]),
    "signature_truncated": _signature(lambda s: s[:-1]),
    "signature_extended": _signature(lambda s: s + b"\x00"),
    "signature_leading_zero_byte": _signature(lambda s: b"\x00" + s),
    "signature_zeros": _signature(lambda s: bytes(len(s))),
    "signature_all_ones": _signature(lambda s: b"\xff" * len(s)),
    # Length.
    "just_under_the_length_cap": _sized(MAX_TOKEN_LENGTH - 8),
    "just_over_the_length_cap": _sized(MAX_TOKEN_LENGTH + 40),
}


def test_corpus_is_large_and_mixed(forge: Forge, ring: KeyRing) -> None:
    """The corpus has at least 150 cases, with many accepted and many rejected by the oracle."""
    outcomes = [oracle(build(forge), ring)[0] for build in CASES.values()]
    assert len(outcomes) >= 150
    assert outcomes.count(True) >= 30
    assert outcomes.count(False) >= 100


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_decision_as_pyjwt(forge: Forge, ring: KeyRing, name: str) -> None:
    """The verifier and the final gate accept this token exactly when the oracle does."""
    check(CASES[name](forge), ring)


@pytest.mark.parametrize(
    ("name", "accepted"),
    [
        ("valid", True),
        ("exp_as_digit_string_in_the_future", True),
        ("padded_signature", True),
        ("kid_of_the_staged_key", True),
        ("typ_jwt", False),
        ("header_jku", False),
        ("client_id_zero", False),
        ("just_over_the_length_cap", False),
        ("non_canonical_signature", False),
        ("just_under_the_length_cap", True),
    ],
)
def test_oracle_sanity(forge: Forge, ring: KeyRing, name: str, accepted: bool) -> None:
    """The oracle itself decides a few landmark cases as the standards say."""
    assert oracle(CASES[name](forge), ring)[0] is accepted


# -- hypothesis: generated claim sets and headers ----------------------------------------

_json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
_json_values = st.recursive(
    _json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


def _time_claim(center_offset: int) -> st.SearchStrategy[Any]:
    # Offsets in whole minutes keep every generated time well away from a boundary.
    minutes = st.integers(min_value=-180, max_value=180).map(lambda m: m * 60 + center_offset)
    return st.one_of(
        minutes.map(lambda off: ("now", off)),
        minutes.map(lambda off: ("now_text", off)),
        minutes.map(lambda off: ("now_float", off)),
        _json_values.map(lambda v: ("raw", v)),
    )


def _member(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(valid, valid, valid, _json_values, st.just(DROP))


_claims_plan = st.fixed_dictionaries(
    {
        "iss": _member(st.sampled_from([ISSUER, ISSUER + "/", "https://evil.example.test"])),
        "sub": _member(st.text(min_size=1, max_size=10)),
        "aud": _member(
            st.sampled_from(
                [
                    RESOURCE,
                    [RESOURCE],
                    [OTHER_AUDIENCE, RESOURCE],
                    OTHER_AUDIENCE,
                    [],
                    [RESOURCE, 1],
                ]
            )
        ),
        "client_id": _member(st.text(min_size=1, max_size=10)),
        "jti": _member(st.text(min_size=1, max_size=10)),
        "scope": _member(st.text(max_size=10)),
        "exp": st.one_of(_time_claim(0), st.just(DROP)),
        "iat": st.one_of(_time_claim(-60), st.just(DROP)),
        "nbf": st.one_of(_time_claim(-60), st.just(DROP), st.just(DROP)),
    }
)
_header_plan = st.fixed_dictionaries(
    {
        "alg": _member(st.sampled_from(["RS256", "RS256", "HS256", "none", "rs256"])),
        "typ": _member(st.sampled_from(["at+jwt", "application/at+jwt", "JWT"])),
        "kid": st.sampled_from(["active", "staged", "retiring", "unknown", "dropped"]),
        "extra": st.one_of(
            st.just({}),
            st.dictionaries(
                st.sampled_from(["cty", "foo", "jku", "x5c", "crit", "b64", "zip"]),
                _json_values,
                max_size=2,
            ),
        ),
        "signer": st.sampled_from(["kid", "kid", "kid", "active", "foreign"]),
    }
)


def _materialise(value: Any, now: int) -> Any:
    if isinstance(value, tuple):
        kind, inner = value
        if kind == "now":
            return now + inner
        if kind == "now_text":
            return str(now + inner)
        if kind == "now_float":
            return now + inner + 0.5
        return inner
    return value


def _token_from_plan(forge: Forge, claims_plan: dict[str, Any], header_plan: dict[str, Any]) -> str:
    now = _now()
    claims = {
        name: _materialise(value, now) for name, value in claims_plan.items() if value is not DROP
    }
    by_state = {k.state: k for k in forge.ring.keys}
    kid_choice = header_plan["kid"]
    header: dict[str, Any] = dict(header_plan["extra"])
    for name in ("alg", "typ"):
        if header_plan[name] is not DROP:
            header[name] = header_plan[name]
    if kid_choice in by_state:
        header["kid"] = by_state[kid_choice].kid
    elif kid_choice == "unknown":
        header["kid"] = "B" * 43
    signer = header_plan["signer"]
    if signer == "foreign":
        key = forge.foreign
    elif signer == "kid" and kid_choice in by_state:
        key = by_state[kid_choice].private_key
    else:
        key = forge.private_key
    assert key is not None
    signing_input = f"{json_segment(header)}.{json_segment(claims)}"
    return f"{signing_input}.{rs256(key, signing_input)}"


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(claims_plan=_claims_plan, header_plan=_header_plan)
def test_generated_tokens_same_decision_as_pyjwt(
    forge: Forge, ring: KeyRing, claims_plan: dict[str, Any], header_plan: dict[str, Any]
) -> None:
    """For generated claim sets and headers, the verifier and gate agree with the oracle."""
    check(_token_from_plan(forge, claims_plan, header_plan), ring)
