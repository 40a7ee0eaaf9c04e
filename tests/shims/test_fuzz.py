"""Hostile input never makes an exception escape the gate or introspection."""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shims.introspection import Introspector
from shims.keys import KeyRing
from shims.verifier import VerifiedToken

from .forge import Forge, b64url, segments
from .helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    UNKNOWN,
    LegacyStore,
    make_gate,
    make_introspector,
)
from .oracle import oracle

FUZZ = settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

_json = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=10),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=8,
)
_header_like = st.dictionaries(
    st.sampled_from(["alg", "typ", "kid", "crit", "jku", "jwk", "x5c", "b64", "cty", "zip"]),
    st.one_of(_json, st.sampled_from(["RS256", "at+jwt", "none", "HS256"])),
    max_size=5,
)


def _encode(value: Any) -> str:
    return b64url(json.dumps(value).encode("utf-8"))


@st.composite
def mutations(draw: st.DrawFn, token: str) -> str:
    """A real token after one or more structural or character-level changes."""
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        parts = token.split(".")
        kind = draw(
            st.sampled_from(
                ["swap", "chars", "segment_json", "header_object", "truncate", "dot", "duplicate"]
            )
        )
        if kind == "swap" and len(parts) > 1:
            parts = draw(st.permutations(parts))
        elif kind == "chars" and token:
            chars = list(token)
            for _ in range(draw(st.integers(min_value=1, max_value=4))):
                at = draw(st.integers(min_value=0, max_value=len(chars) - 1))
                chars[at] = draw(st.one_of(st.sampled_from(B64URL + "=.+/ "), st.characters()))
            token = "".join(chars)
            continue
        elif kind == "segment_json":
            at = draw(st.integers(min_value=0, max_value=len(parts) - 1))
            parts[at] = _encode(draw(_json))
        elif kind == "header_object":
            parts[0] = _encode(draw(_header_like))
        elif kind == "truncate":
            token = token[: draw(st.integers(min_value=0, max_value=len(token)))]
            continue
        elif kind == "dot":
            at = draw(st.integers(min_value=0, max_value=len(token)))
            token = token[:at] + "." + token[at:]
            continue
        elif kind == "duplicate":
            at = draw(st.integers(min_value=0, max_value=len(parts) - 1))
            parts.insert(at, parts[at])
        token = ".".join(parts)
    return token


def _tokens(forge: Forge) -> st.SearchStrategy[str]:
    base = forge.valid()
    return st.one_of(
        st.text(max_size=400),
        st.text(alphabet=B64URL + ".=", max_size=400),
        mutations(base),
    )


def _check_gates(ring: KeyRing, token: str) -> None:
    hybrid = make_gate(ring, "hybrid", store=LegacyStore(missing=UNKNOWN))
    # The store is empty, so nothing may pass: a valid JWT is not live there either.
    assert hybrid.resolve(token) is UNKNOWN
    result = make_gate(ring, "final").resolve(token)
    if result is not UNKNOWN:
        assert isinstance(result, VerifiedToken)
        assert oracle(token, ring)[0], token


@FUZZ
@given(data=st.data())
def test_gate_never_raises_on_arbitrary_tokens(
    forge: Forge, ring: KeyRing, data: st.DataObject
) -> None:
    """Arbitrary text and mutated real tokens give a record or `unknown`, never an exception."""
    _check_gates(ring, data.draw(_tokens(forge)))


@FUZZ
@given(data=st.data())
def test_mutated_tokens_are_never_wrongly_accepted(
    forge: Forge, ring: KeyRing, data: st.DataObject
) -> None:
    """A mutated real token passes the final gate only when the PyJWT oracle also accepts it."""
    token = data.draw(mutations(forge.valid()))
    result = make_gate(ring, "final").resolve(token)
    assert (result is not UNKNOWN) is oracle(token, ring)[0]


@FUZZ
@given(data=st.data())
def test_introspect_never_raises(forge: Forge, ring: KeyRing, data: st.DataObject) -> None:
    """Introspecting any token answers a dict, exactly {"active": false} when inactive."""
    token = data.draw(_tokens(forge))
    for mode in ("hybrid", "final"):
        introspector = make_introspector(make_gate(ring, mode, store=LegacyStore(), unknown=None))
        answer = introspector.introspect(token)
        assert answer == {"active": False} or (answer["active"] is True and mode == "final")


def _authorization() -> st.SearchStrategy[str | None]:
    def basic(pair: str) -> str:
        return "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")

    return st.one_of(
        st.none(),
        st.text(max_size=80),
        st.text(max_size=40).map(lambda t: "Basic " + t),
        st.text(max_size=40).map(basic),
        st.just(basic(f"{CLIENT_ID}:{CLIENT_SECRET.replace(' ', '+')}")),
    )


@FUZZ
@given(data=st.data())
def test_introspection_handle_never_raises(
    forge: Forge, ring: KeyRing, data: st.DataObject
) -> None:
    """Any Authorization header and form give a 200, 400 or 401 reply, never an exception."""
    form = data.draw(
        st.dictionaries(
            st.sampled_from(["token", "token_type_hint", "client_id", "client_secret"]),
            st.one_of(st.text(max_size=60), _tokens(forge)),
            max_size=4,
        )
    )
    authorization = data.draw(_authorization())
    for mode in ("hybrid", "final"):
        introspector: Introspector = make_introspector(make_gate(ring, mode, store=LegacyStore()))
        reply = introspector.handle(authorization, form)
        assert reply.status in (200, 400, 401)
        assert reply.headers["Cache-Control"] == "no-store"
        if reply.status == 200:
            assert reply.body == {"active": False} or reply.body["active"] is True


def test_segments_helper_splits_on_dots(forge: Forge) -> None:
    """The fuzz base token is a real three-segment JWT (the mutations start from it)."""
    assert len(segments(forge.valid())) == 3
