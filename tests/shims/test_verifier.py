"""JwtVerifier: RS256 pinned, RFC 9068 header and claim rules, our keys only, bounded work."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from shims.keys import KeyRing
from shims.verifier import MAX_TOKEN_LENGTH, JwtVerifier, TokenRejected, looks_like_jwt

from .attacks import ATTACKS
from .forge import DROP, ISSUER, LEEWAY, OTHER_AUDIENCE, RESOURCE, Forge, json_segment, segments
from .helpers import Clock, make_verifier


def test_valid_token_gives_its_fields(ring: KeyRing, forge: Forge) -> None:
    """A valid token verifies to its claims, kid, exp, jti, client_id and subject."""
    claims = forge.claims(sub="amy", client_id="app")
    verified = make_verifier(ring).verify(forge.token(claims))
    assert verified.claims == claims
    assert (verified.kid, verified.exp, verified.jti) == (
        forge.signer.kid,
        claims["exp"],
        claims["jti"],
    )
    assert (verified.client_id, verified.subject) == ("app", "amy")


@pytest.mark.parametrize("typ", ["at+jwt", "application/at+jwt"])
def test_both_rfc9068_typ_values_are_accepted(ring: KeyRing, forge: Forge, typ: str) -> None:
    """typ at+jwt and application/at+jwt are both accepted (RFC 9068 §2.1)."""
    token = forge.token(header=forge.header(typ=typ))
    assert make_verifier(ring).verify(token).subject == "user-1"


@pytest.mark.parametrize("state", ["staged", "retiring"])
def test_tokens_of_every_published_key_verify(ring: KeyRing, forge: Forge, state: str) -> None:
    """A token signed by a staged or retiring key of our ring verifies under its kid."""
    key = next(k for k in ring.keys if k.state == state)
    assert key.private_key is not None
    token = forge.token(header=forge.header(kid=key.kid), key=key.private_key)
    assert make_verifier(ring).verify(token).kid == key.kid


def test_other_keys_signature_under_our_kid_fails(ring: KeyRing, forge: Forge) -> None:
    """A token signed by one of our keys but naming another of our kids fails the signature."""
    staged = next(k for k in ring.keys if k.state == "staged")
    token = forge.token(header=forge.header(kid=staged.kid))
    with pytest.raises(TokenRejected) as caught:
        make_verifier(ring).verify(token)
    assert caught.value.reason == "signature"


def test_audience_list_containing_ours_is_accepted(ring: KeyRing, forge: Forge) -> None:
    """aud may be a list; it passes when it contains one of our accepted audiences."""
    token = forge.valid(aud=[OTHER_AUDIENCE, RESOURCE])
    assert make_verifier(ring).verify(token).subject == "user-1"


def test_any_configured_audience_is_accepted(ring: KeyRing, forge: Forge) -> None:
    """A verifier with several accepted audiences takes a token for any of them."""
    verifier = JwtVerifier(ring, issuer=ISSUER, audiences=[RESOURCE, OTHER_AUDIENCE])
    assert verifier.verify(forge.valid(aud=OTHER_AUDIENCE)).subject == "user-1"


@pytest.mark.parametrize(
    ("claim", "offset", "accepted"),
    [
        ("exp", -(LEEWAY - 5), True),
        ("exp", -(LEEWAY + 5), False),
        ("iat", LEEWAY - 5, True),
        ("iat", LEEWAY + 5, False),
        ("nbf", LEEWAY - 5, True),
        ("nbf", LEEWAY + 5, False),
    ],
)
def test_leeway_applies_to_time_claims(
    ring: KeyRing, forge: Forge, clock: Clock, claim: str, offset: int, accepted: bool
) -> None:
    """exp, iat and nbf are checked against the clock with the configured leeway, no more."""
    now = int(clock.now)
    claims = forge.claims(iat=now - 600, exp=now + 600)
    claims[claim] = now + offset
    verifier = make_verifier(ring, clock)
    if accepted:
        verifier.verify(forge.token(claims))
    else:
        with pytest.raises(TokenRejected):
            verifier.verify(forge.token(claims))


@pytest.mark.parametrize("leeway", [-1, 61, 3600])
def test_leeway_is_bounded(ring: KeyRing, leeway: float) -> None:
    """A leeway outside 0..60 seconds is refused at construction."""
    with pytest.raises(ValueError, match="leeway"):
        JwtVerifier(ring, issuer=ISSUER, audiences=[RESOURCE], leeway=leeway)


def test_an_audience_is_required(ring: KeyRing) -> None:
    """A verifier without any accepted audience is refused at construction."""
    with pytest.raises(ValueError, match="audience"):
        JwtVerifier(ring, issuer=ISSUER, audiences=[])


def _reason_cases() -> list[tuple[str, Callable[[Forge], str], str]]:
    def attack(name: str) -> Callable[[Forge], str]:
        return ATTACKS[name].build

    return [
        ("alg_none", attack("alg_none_empty_sig"), "alg"),
        ("hs256", attack("hs256_public_key_as_pem_spki"), "alg"),
        ("typ", attack("typ_JWT"), "typ"),
        ("typ_list", attack("typ_a_list"), "typ"),
        ("jku", attack("jku_header"), "forbidden_header"),
        ("crit", attack("crit_header"), "forbidden_header"),
        ("unknown_kid", attack("unknown_kid"), "unknown_kid"),
        ("missing_kid", attack("missing_kid"), "unknown_kid"),
        ("foreign", attack("foreign_key_reusing_our_kid"), "signature"),
        ("tampered", attack("payload_sub_changed_under_old_signature"), "signature"),
        ("missing_jti", attack("missing_jti"), "missing_claim"),
        ("expired", attack("expired_beyond_leeway"), "expired"),
        ("nbf", attack("nbf_in_the_future"), "not_yet_valid"),
        ("iss", attack("wrong_iss"), "issuer"),
        ("aud", attack("wrong_aud"), "audience"),
        ("huge", attack("token_of_100_kb"), "too_long"),
        ("junk", attack("junk_after_a_valid_header"), "malformed"),
        ("non_ascii", attack("non_ascii_in_payload"), "malformed"),
        ("sub_type", lambda f: f.valid(sub=42), "claims"),
        ("client_id_type", lambda f: f.valid(client_id=["a"]), "claims"),
        ("exp_type", lambda f: f.valid(exp="soon"), "claims"),
        ("aud_type", lambda f: f.valid(aud=[RESOURCE, 1]), "audience"),
    ]


@pytest.mark.parametrize(
    ("build", "reason"), [c[1:] for c in _reason_cases()], ids=[c[0] for c in _reason_cases()]
)
def test_rejection_reason(
    ring: KeyRing, forge: Forge, build: Callable[[Forge], str], reason: str
) -> None:
    """Each kind of bad token is rejected with its short metric reason."""
    with pytest.raises(TokenRejected) as caught:
        make_verifier(ring).verify(build(forge))
    assert caught.value.reason == reason


def test_length_cap_comes_before_decoding(ring: KeyRing) -> None:
    """A token over the cap is refused as too_long whatever it contains."""
    with pytest.raises(TokenRejected) as caught:
        make_verifier(ring).verify("!" * (MAX_TOKEN_LENGTH + 1))
    assert caught.value.reason == "too_long"


def test_unknown_kid_asks_for_a_key_reload(ring: KeyRing, forge: Forge) -> None:
    """An unknown kid triggers reload_keys once; a known kid never does."""
    staged = next(k for k in ring.keys if k.state == "staged")
    partial = KeyRing([k for k in ring.keys if k is not staged])
    reloads: list[bool] = []
    verifier: Any = None

    def reload() -> bool:
        reloads.append(True)
        verifier.keyring = ring
        return True

    verifier = make_verifier(partial, reload_keys=reload)
    verifier.verify(forge.valid())
    assert reloads == []
    assert staged.private_key is not None
    token = forge.token(header=forge.header(kid=staged.kid), key=staged.private_key)
    assert verifier.verify(token).kid == staged.kid
    assert reloads == [True]


def test_replacing_the_keyring_drops_cached_headers(ring: KeyRing, forge: Forge) -> None:
    """After the ring loses a key, tokens naming it fail although their header was cached."""
    verifier = make_verifier(ring)
    token = forge.valid()
    verifier.verify(token)
    verifier.keyring = KeyRing([k for k in ring.keys if k.kid != forge.signer.kid])
    with pytest.raises(TokenRejected) as caught:
        verifier.verify(token)
    assert caught.value.reason == "unknown_kid"


def test_claims_are_never_taken_from_the_header_cache(ring: KeyRing, forge: Forge) -> None:
    """Two tokens with the same header verify to their own payloads, not a cached one."""
    verifier = make_verifier(ring)
    first, second = forge.valid(sub="one"), forge.valid(sub="two")
    assert segments(first)[0] == segments(second)[0]
    assert verifier.verify(first).subject == "one"
    assert verifier.verify(second).subject == "two"


@pytest.mark.parametrize(
    ("token", "shaped"),
    [
        (f"{json_segment({'alg': 'RS256'})}.x.y", True),
        (f"{json_segment({})}..", True),
        (f"{json_segment([1])}.x.y", False),
        (f"{json_segment('text')}.x.y", False),
        ("abcd.efgh.ijkl", False),
        ("opaque-token", False),
        (f"{json_segment({'alg': 'RS256'})}.x", False),
        (f"{json_segment({'alg': 'RS256'})}.x.y.z", False),
        ("", False),
    ],
)
def test_looks_like_jwt_classifies_by_shape(token: str, shaped: bool) -> None:
    """Three segments whose header is a JSON object is a JWT; anything else is opaque."""
    assert looks_like_jwt(token) is shaped


def test_missing_claims_with_null_values_are_missing(ring: KeyRing, forge: Forge) -> None:
    """A required claim present as null counts as missing, as PyJWT's require does."""
    with pytest.raises(TokenRejected) as caught:
        make_verifier(ring).verify(forge.valid(sub=None))
    assert caught.value.reason == "missing_claim"
    with pytest.raises(TokenRejected):
        make_verifier(ring).verify(forge.valid(sub=DROP))
