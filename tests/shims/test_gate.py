"""TokenGate: classification, the legacy path, liveness, records, cache, metrics, revocation."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shims.denylist import Denylist
from shims.gate import TokenGate, field_of
from shims.keys import KeyRing
from shims.records import ClaimRecord, record_factory
from shims.verifier import VerifiedToken

from .forge import LEEWAY, Forge
from .helpers import UNKNOWN, Clock, LegacyStore, Recorder, make_gate, make_verifier

OPAQUE = "opaque-token-0123456789"
LEGACY_RECORD = {"sub": "legacy-user", "client_id": "legacy-client", "scope": "read"}


@dataclass
class AccessToken:
    user_id: str
    client: str
    scopes: list[str]
    expires_at: str
    revoked: bool
    token: str


# -- the hybrid mode ---------------------------------------------------------------------


def test_hybrid_opaque_token_returns_the_legacy_record(ring: KeyRing) -> None:
    """In hybrid, an opaque token is looked up in the legacy store and its record returned."""
    store = LegacyStore({OPAQUE: LEGACY_RECORD}, missing=UNKNOWN)
    gate = make_gate(ring, "hybrid", store=store)
    assert gate.resolve(OPAQUE) is LEGACY_RECORD
    assert store.calls == [OPAQUE]


def test_hybrid_unknown_opaque_token_gives_the_legacy_answer(ring: KeyRing) -> None:
    """An opaque token the legacy store does not know gives what the store gives."""
    gate = make_gate(ring, "hybrid", store=LegacyStore(missing=UNKNOWN))
    assert gate.resolve(OPAQUE) is UNKNOWN


def test_hybrid_per_call_legacy_callable_replaces_the_lookup(ring: KeyRing) -> None:
    """A `legacy=` callable given to resolve is used instead of the configured lookup."""
    store = LegacyStore(missing=UNKNOWN)
    gate = make_gate(ring, "hybrid", store=store)
    assert gate.resolve(OPAQUE, legacy=lambda t: LEGACY_RECORD) is LEGACY_RECORD
    assert store.calls == []


def test_hybrid_without_any_legacy_lookup_is_a_configuration_error(ring: KeyRing) -> None:
    """An opaque token in hybrid with no legacy lookup at all raises instead of passing."""
    gate = make_gate(ring, "hybrid")
    with pytest.raises(RuntimeError, match="no legacy lookup"):
        gate.resolve(OPAQUE)


def test_liveness_legacy_rejects_a_valid_jwt_missing_from_the_store(
    ring: KeyRing, forge: Forge
) -> None:
    """With liveness "legacy", a valid JWT the legacy store no longer has is rejected."""
    store = LegacyStore(missing=UNKNOWN)
    gate = make_gate(ring, "hybrid", store=store, liveness="legacy")
    token = forge.valid()
    assert gate.resolve(token) is UNKNOWN
    assert store.calls == [token]


def test_liveness_legacy_returns_the_stored_record_for_a_valid_jwt(
    ring: KeyRing, forge: Forge
) -> None:
    """With liveness "legacy", a valid JWT resolves to the record the legacy code stored."""
    token = forge.valid()
    record = {"sub": "user-1", "client_id": "client-1"}
    gate = make_gate(ring, "hybrid", store=LegacyStore({token: record}), liveness="legacy")
    assert gate.resolve(token) is record


def test_liveness_denylist_in_hybrid_skips_the_store_for_jwts(ring: KeyRing, forge: Forge) -> None:
    """With liveness "denylist", a valid JWT passes without a legacy lookup."""
    store = LegacyStore(missing=UNKNOWN)
    gate = make_gate(ring, "hybrid", store=store, liveness="denylist")
    verified = gate.resolve(forge.valid(sub="bob"))
    assert isinstance(verified, VerifiedToken)
    assert verified.subject == "bob"
    assert store.calls == []


# -- the final mode ----------------------------------------------------------------------


def test_final_refuses_opaque_without_calling_legacy(ring: KeyRing) -> None:
    """In final, an opaque token is refused and the legacy lookup is never called."""
    store = LegacyStore({OPAQUE: LEGACY_RECORD}, missing=UNKNOWN)
    gate = make_gate(ring, "final", store=store)
    legacy_calls: list[str] = []
    assert gate.resolve(OPAQUE, legacy=lambda t: legacy_calls.append(OPAQUE)) is UNKNOWN
    assert store.calls == legacy_calls == []


def test_final_forces_denylist_liveness(ring: KeyRing) -> None:
    """The final mode ignores liveness "legacy": no legacy store is read at all."""
    gate = make_gate(ring, "final", liveness="legacy")
    assert gate.liveness == "denylist"


def test_final_returns_verified_token_without_to_record(ring: KeyRing, forge: Forge) -> None:
    """Without `to_record`, the final gate returns the VerifiedToken with its claims."""
    claims = forge.claims(sub="carol", client_id="app-7")
    verified = make_gate(ring, "final").resolve(forge.token(claims))
    assert isinstance(verified, VerifiedToken)
    assert (verified.subject, verified.client_id, verified.jti) == ("carol", "app-7", claims["jti"])
    assert verified.claims == claims


def test_unknown_mode_is_refused(ring: KeyRing) -> None:
    """A gate mode other than hybrid or final is a ValueError."""
    with pytest.raises(ValueError, match="mode"):
        TokenGate(make_verifier(ring), mode="legacy")  # type: ignore[arg-type]


# -- records -----------------------------------------------------------------------------


def test_to_record_claim_record_reads_as_attribute_and_item(ring: KeyRing, forge: Forge) -> None:
    """A ClaimRecord built by record_factory reads fields both as attributes and items."""
    to_record = record_factory({"user_id": "sub", "scopes": "scope:list"})
    gate = make_gate(ring, "final", to_record=to_record)
    record = gate.resolve(forge.valid(sub="dave", scope="a b"))
    assert isinstance(record, ClaimRecord)
    assert record.user_id == record["user_id"] == "dave"
    assert record.scopes == record["scopes"] == ["a", "b"]


def test_to_record_builds_the_legacy_dataclass(ring: KeyRing, forge: Forge) -> None:
    """record_factory with cls builds the legacy dataclass with converted field types."""
    to_record = record_factory(
        {
            "user_id": "sub",
            "client": "client_id",
            "scopes": "scope:list",
            "expires_at": "exp:iso8601",
            "revoked": "=False",
            "token": "token",
        },
        cls=AccessToken,
    )
    gate = make_gate(ring, "final", to_record=to_record)
    token = forge.token(forge.claims(sub="erin", scope="read write", exp=2_000_000_000))
    assert gate.resolve(token) == AccessToken(
        user_id="erin",
        client="client-1",
        scopes=["read", "write"],
        expires_at="2033-05-18T03:33:20+00:00",
        revoked=False,
        token=token,
    )


def test_to_record_runs_once_per_token(ring: KeyRing, forge: Forge) -> None:
    """The record built for a token is reused while the token stays cached."""
    built: list[str] = []

    def to_record(verified: VerifiedToken) -> dict[str, str]:
        built.append(verified.jti)
        return {"sub": verified.subject}

    gate = make_gate(ring, "final", to_record=to_record)
    token = forge.valid()
    first, second = gate.resolve(token), gate.resolve(token)
    assert first is second
    assert len(built) == 1


# -- unknown -----------------------------------------------------------------------------


@pytest.mark.parametrize("unknown", [KeyError, KeyError("unknown token")])
def test_unknown_exception_is_raised_on_rejection(ring: KeyRing, unknown: Any) -> None:
    """With `unknown=KeyError` (legacy `TOKENS[token]`), a rejected token raises KeyError."""
    gate = make_gate(ring, "final", unknown=unknown)
    with pytest.raises(KeyError):
        gate.resolve("a.b.c")
    with pytest.raises(KeyError):
        gate.resolve(OPAQUE)


def test_strict_legacy_lookup_raises_for_unknown_opaque(ring: KeyRing) -> None:
    """A legacy lookup that raises for an unknown opaque token raises through the gate."""
    store = LegacyStore()
    gate = make_gate(ring, "hybrid", legacy_lookup=store.strict_lookup, unknown=KeyError)
    with pytest.raises(KeyError):
        gate.resolve(OPAQUE)


def test_unknown_can_be_overridden_per_call(ring: KeyRing) -> None:
    """`resolve(..., unknown=...)` overrides the gate's default rejection value."""
    gate = make_gate(ring, "final")
    assert gate.resolve(OPAQUE, unknown=False) is False


# -- resolve_async -----------------------------------------------------------------------


def test_resolve_async_awaits_an_async_legacy_lookup(ring: KeyRing) -> None:
    """resolve_async awaits an async legacy lookup and returns its record."""
    gate = make_gate(ring, "hybrid")

    async def lookup(token: str) -> Any:
        await asyncio.sleep(0)
        return LEGACY_RECORD

    assert asyncio.run(gate.resolve_async(OPAQUE, legacy=lookup)) is LEGACY_RECORD


def test_resolve_async_accepts_a_plain_legacy_lookup(ring: KeyRing) -> None:
    """resolve_async also works with a legacy lookup that returns without awaiting."""
    gate = make_gate(ring, "hybrid", store=LegacyStore({OPAQUE: LEGACY_RECORD}))
    assert asyncio.run(gate.resolve_async(OPAQUE)) is LEGACY_RECORD


def test_resolve_async_liveness_legacy_awaits_the_store(ring: KeyRing, forge: Forge) -> None:
    """resolve_async checks a valid JWT against an async legacy store (liveness legacy)."""
    token = forge.valid()
    gate = make_gate(ring, "hybrid", liveness="legacy")

    async def missing(token: str) -> Any:
        return UNKNOWN

    async def present(token: str) -> Any:
        return LEGACY_RECORD

    assert asyncio.run(gate.resolve_async(token, legacy=missing)) is UNKNOWN
    assert asyncio.run(gate.resolve_async(token, legacy=present)) is LEGACY_RECORD


def test_resolve_async_rejects_bad_jwt_without_calling_legacy(ring: KeyRing, forge: Forge) -> None:
    """resolve_async never awaits the legacy lookup for a JWT that fails verification."""
    gate = make_gate(ring, "hybrid")
    calls: list[str] = []

    async def lookup(token: str) -> Any:
        calls.append("called")
        return LEGACY_RECORD

    bad = forge.valid(iss="https://evil.example.test")
    assert asyncio.run(gate.resolve_async(bad, legacy=lookup)) is UNKNOWN
    assert calls == []


def test_resolve_async_final_returns_the_record(ring: KeyRing, forge: Forge) -> None:
    """resolve_async in the final mode returns the record built from the claims."""
    gate = make_gate(ring, "final", to_record=record_factory({"sub": "sub"}))
    assert asyncio.run(gate.resolve_async(forge.valid(sub="frank"))) == {"sub": "frank"}


# -- the cache ---------------------------------------------------------------------------


def test_cache_skips_the_rsa_verify_on_reuse(ring: KeyRing, forge: Forge) -> None:
    """A second resolve of the same token does not verify its signature again."""
    gate = make_gate(ring, "final")
    token = forge.valid()
    gate.resolve(token)
    gate.resolve(token)
    assert gate.verifier.verifications == 1  # type: ignore[attr-defined]


def test_cache_drops_a_token_past_its_exp(ring: KeyRing, forge: Forge, clock: Clock) -> None:
    """A cached token is rejected once the clock passes its exp plus the leeway."""
    gate = make_gate(ring, "final", clock=clock)
    token = forge.token(forge.claims(iat=int(clock.now), exp=int(clock.now) + 120))
    assert gate.resolve(token) is not UNKNOWN
    clock.advance(120 + LEEWAY + 1)
    assert gate.resolve(token) is UNKNOWN


def test_cache_is_bounded(ring: KeyRing, forge: Forge) -> None:
    """Past `cache_size` tokens the oldest is evicted and must be verified again."""
    gate = make_gate(ring, "final", cache_size=3)
    verifier: Any = gate.verifier
    tokens = [forge.valid() for _ in range(4)]
    for token in tokens:
        gate.resolve(token)
    assert verifier.verifications == 4
    gate.resolve(tokens[3])
    assert verifier.verifications == 4
    gate.resolve(tokens[0])
    assert verifier.verifications == 5


def test_finding_12_a_full_cache_evicts_the_least_recently_used_token(
    ring: KeyRing, forge: Forge
) -> None:
    """A full cache drops the token unused longest, not the first one inserted."""
    gate = make_gate(ring, "final", cache_size=3)
    verifier: Any = gate.verifier
    tokens = [forge.valid() for _ in range(4)]
    for token in tokens[:3]:
        gate.resolve(token)
    gate.resolve(tokens[0])  # a hit: now the most recently used
    gate.resolve(tokens[3])  # evicts tokens[1]
    gate.resolve(tokens[0])
    assert verifier.verifications == 4


def test_expired_entries_leave_a_cache_that_is_not_full(
    ring: KeyRing, forge: Forge, clock: Clock
) -> None:
    """Tokens nobody presents after their exp leave the cache as new tokens come in,
    a few per insert (no insert scans the whole cache: issue 13)."""
    gate = make_gate(ring, "final", clock=clock, cache_size=100)
    for _ in range(6):
        gate.resolve(forge.token(forge.claims(iat=int(clock.now), exp=int(clock.now) + 60)))
    clock.advance(60 + LEEWAY + 1)
    now = int(clock.now)
    fresh = [forge.token(forge.claims(iat=now, exp=now + 3600)) for _ in range(3)]
    for token in fresh:
        gate.resolve(token)
    assert set(gate._cache) == set(fresh)


class JumpingClock:
    """Gives ``now`` to the verifier, then an hour later to everything after it: the token
    expires between its verification and its insert into the cache."""

    def __init__(self, now: float) -> None:
        self.now, self.later = now, now + 3600
        self.calls_left: int | None = None  # None: not armed yet (set-up reads the clock)

    def __call__(self) -> float:
        if self.calls_left is None or self.calls_left > 0:
            if self.calls_left is not None:
                self.calls_left -= 1
            return self.now
        return self.later


def test_a_token_that_expires_on_its_way_into_an_empty_cache_is_no_error(
    ring: KeyRing, forge: Forge
) -> None:
    """The insert finds only an expired entry, its own, and drops it: no StopIteration
    (a 500, or a silent stop in a generator) from the empty cache."""
    now = time.time()
    clock = JumpingClock(now)
    gate = make_gate(ring, "final", clock=clock)
    token = forge.token(forge.claims(iat=int(now), exp=int(now) + 60))
    clock.calls_left = 1  # the verifier's read
    assert gate.resolve(token) is not UNKNOWN
    assert gate._cache == {}


def test_cache_survives_concurrent_eviction(ring: KeyRing, forge: Forge) -> None:
    """Threads resolving many tokens through a full cache never see an exception."""
    gate = make_gate(ring, "final", cache_size=50)
    tokens = [forge.valid() for _ in range(120)]
    errors: list[BaseException] = []
    results: list[bool] = []

    def work(offset: int) -> None:
        try:
            for i in range(1500):
                results.append(gate.resolve(tokens[(i * 7 + offset) % len(tokens)]) is UNKNOWN)
        except BaseException as exc:  # the point: nothing may escape
            errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often, so a race shows up quickly
    try:
        threads = [threading.Thread(target=work, args=(k * 13,)) for k in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == []
    assert not any(results)


# -- metrics -----------------------------------------------------------------------------


def test_metrics_jwt_accepted(ring: KeyRing, forge: Forge) -> None:
    """An accepted JWT is counted as (jwt, accepted, ok, its client_id)."""
    recorder = Recorder()
    make_gate(ring, "final", metrics=recorder).resolve(forge.valid(client_id="app-1"))
    assert recorder.events == [("jwt", "accepted", "ok", "app-1")]


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"exp": 1_000_000}, "expired"),
        ({"iss": "https://evil.example.test"}, "issuer"),
        ({"aud": "https://other.example.test"}, "audience"),
        ({"jti": None}, "missing_claim"),
    ],
)
def test_metrics_jwt_rejected_with_reason(
    ring: KeyRing, forge: Forge, claims: dict[str, Any], reason: str
) -> None:
    """A rejected JWT is counted as (jwt, rejected, <reason>, None)."""
    recorder = Recorder()
    make_gate(ring, "final", metrics=recorder).resolve(forge.valid(**claims))
    assert recorder.events == [("jwt", "rejected", reason, None)]


def test_metrics_cached_jwt_counted_each_time(ring: KeyRing, forge: Forge) -> None:
    """A token served from the cache is still counted on every request."""
    recorder = Recorder()
    gate = make_gate(ring, "final", metrics=recorder)
    token = forge.valid(client_id="app-1")
    gate.resolve(token)
    gate.resolve(token)
    assert recorder.events == [("jwt", "accepted", "ok", "app-1")] * 2


def test_metrics_opaque_accepted_with_record_client(ring: KeyRing) -> None:
    """An accepted opaque token is counted with the client id read from its legacy record."""
    recorder = Recorder()
    store = LegacyStore({OPAQUE: LEGACY_RECORD})
    make_gate(ring, "hybrid", store=store, metrics=recorder).resolve(OPAQUE)
    assert recorder.events == [("opaque", "accepted", "ok", "legacy-client")]


def test_metrics_opaque_client_from_a_custom_reader(ring: KeyRing) -> None:
    """`legacy_client_id` decides which record field names the client."""
    recorder = Recorder()
    store = LegacyStore({OPAQUE: {"app": "from-app-field"}})
    gate = make_gate(
        ring,
        "hybrid",
        store=store,
        metrics=recorder,
        legacy_client_id=lambda record: field_of(record, "app"),
    )
    gate.resolve(OPAQUE)
    assert recorder.events == [("opaque", "accepted", "ok", "from-app-field")]


def test_metrics_opaque_unknown(ring: KeyRing) -> None:
    """An opaque token the store does not know is counted as (opaque, rejected, unknown)."""
    recorder = Recorder()
    gate = make_gate(ring, "hybrid", store=LegacyStore(missing=UNKNOWN), metrics=recorder)
    gate.resolve(OPAQUE)
    assert recorder.events == [("opaque", "rejected", "unknown", None)]


def test_metrics_opaque_refused_in_final(ring: KeyRing) -> None:
    """An opaque token in final is counted as (opaque, rejected, opaque_refused)."""
    recorder = Recorder()
    make_gate(ring, "final", metrics=recorder).resolve(OPAQUE)
    assert recorder.events == [("opaque", "rejected", "opaque_refused", None)]


def test_metrics_jwt_revoked_by_legacy_store(ring: KeyRing, forge: Forge) -> None:
    """A valid JWT the legacy store dropped is counted as (jwt, rejected, revoked, client)."""
    recorder = Recorder()
    gate = make_gate(ring, "hybrid", store=LegacyStore(missing=UNKNOWN), metrics=recorder)
    gate.resolve(forge.valid(client_id="app-2"))
    assert recorder.events == [("jwt", "rejected", "revoked", "app-2")]


# -- revocation --------------------------------------------------------------------------


def test_revoke_rejects_the_token_afterwards(ring: KeyRing, forge: Forge) -> None:
    """A revoked JWT (jti on the denylist) is rejected, also when it was cached."""
    recorder = Recorder()
    gate = make_gate(ring, "final", metrics=recorder)
    token = forge.valid()
    assert gate.resolve(token) is not UNKNOWN
    assert gate.revoke(token) is True
    assert gate.resolve(token) is UNKNOWN
    assert recorder.events[-1] == ("jwt", "rejected", "revoked", None)


def test_revoke_refuses_opaque_and_invalid_tokens(ring: KeyRing, forge: Forge) -> None:
    """revoke returns False for a token that is not a valid JWT, and lists nothing."""
    gate = make_gate(ring, "final")
    assert gate.revoke(OPAQUE) is False
    assert gate.revoke(forge.valid(iss="https://evil.example.test")) is False
    assert len(gate.denylist) == 0


def test_revoked_token_stays_rejected_within_the_leeway(
    ring: KeyRing, forge: Forge, clock: Clock
) -> None:
    """A revoked token stays rejected after its exp while the leeway would still accept it."""
    gate = make_gate(ring, "final", clock=clock, denylist=Denylist(clock=clock))
    now = int(clock.now)
    token = forge.token(forge.claims(iat=now, exp=now + 60))
    assert gate.revoke(token)
    clock.advance(60 + LEEWAY / 2)
    # Any later revocation purges the denylist entries it considers expired.
    assert gate.revoke(forge.valid())
    assert gate.resolve(token) is UNKNOWN


def test_a_revocation_by_another_worker_is_seen(tmp_path: Path) -> None:
    """Two denylists over one file: what one revokes, the other refuses after its reload."""
    from shims import denylist as module
    from shims.denylist import Denylist

    path = tmp_path / "denylist.sqlite3"
    first, second = Denylist(path=path), Denylist(path=path)
    assert "jti-1" not in second
    first.add("jti-1", time.time() + 600)
    second._next_check = 0.0  # the once-a-second pause, skipped
    assert "jti-1" in second
    assert module.RELOAD_SECONDS <= 1.0


# -- finding 4: an async legacy lookup behind the sync gate ------------------------------


async def _async_lookup(token: str) -> Any:
    await asyncio.sleep(0)
    return LEGACY_RECORD


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_finding_4_sync_resolve_refuses_the_awaitable_of_an_async_lookup(ring: KeyRing) -> None:
    """The sync gate refuses (and closes) the coroutine an async legacy lookup returns."""
    gate = make_gate(ring, "hybrid")
    assert gate.resolve("made-up-token", legacy=lambda t: _async_lookup(t)) is UNKNOWN


def test_finding_4_sync_resolve_refuses_a_jwt_checked_by_an_async_store(
    ring: KeyRing, forge: Forge
) -> None:
    """A valid JWT whose liveness needs an async store is refused by the sync gate."""
    gate = make_gate(ring, "hybrid", liveness="legacy")
    assert gate.resolve(forge.valid(), legacy=lambda t: _async_lookup(t)) is UNKNOWN


def test_finding_4_sync_resolve_never_calls_a_coroutine_function(ring: KeyRing) -> None:
    """An `async def` lookup given to the sync gate is refused without being called."""
    calls: list[str] = []

    async def lookup(token: str) -> Any:
        calls.append(token)
        return LEGACY_RECORD

    gate = make_gate(ring, "hybrid")
    assert gate.resolve("made-up-token", legacy=lookup) is UNKNOWN
    assert calls == []


def test_finding_4_the_refusal_names_resolve_async(
    ring: KeyRing, caplog: pytest.LogCaptureFixture
) -> None:
    """The sync gate logs an error that says to use resolve_async."""
    gate = make_gate(ring, "hybrid")
    gate.resolve("made-up-token", legacy=lambda t: _async_lookup(t))
    assert any(r.levelname == "ERROR" and "resolve_async" in r.getMessage() for r in caplog.records)


# -- tokens that are not strings (#12: a gate wrapped around the extractor) ---------------


class Credentials:
    """What an extractor may hand over instead of the token (FastAPI's
    HTTPAuthorizationCredentials has this shape)."""

    scheme = "Bearer"
    credentials = "opaque-abc"


NOT_STRINGS = [None, b"opaque-abc", Credentials(), 42]


@pytest.mark.parametrize("token", NOT_STRINGS, ids=lambda t: type(t).__name__)
def test_hybrid_a_token_that_is_not_a_string_goes_to_the_legacy_lookup_unchanged(
    ring: KeyRing, token: Any
) -> None:
    """Not a JWT: the legacy lookup gets it as it came, and its answer stands (no 500)."""
    store = LegacyStore(missing=UNKNOWN)
    gate = make_gate(ring, "hybrid", store=store)
    assert gate.resolve(token) is UNKNOWN
    assert store.calls == [token]


@pytest.mark.parametrize("token", NOT_STRINGS, ids=lambda t: type(t).__name__)
def test_hybrid_async_a_token_that_is_not_a_string_goes_to_the_legacy_lookup(
    ring: KeyRing, token: Any
) -> None:
    store = LegacyStore(missing=UNKNOWN)
    gate = make_gate(ring, "hybrid", store=store)
    assert asyncio.run(gate.resolve_async(token)) is UNKNOWN
    assert store.calls == [token]


@pytest.mark.parametrize("token", NOT_STRINGS, ids=lambda t: type(t).__name__)
def test_final_a_token_that_is_not_a_string_gets_the_unknown_answer(
    ring: KeyRing, token: Any
) -> None:
    gate = make_gate(ring, "final")
    assert gate.resolve(token) is UNKNOWN
    assert asyncio.run(gate.resolve_async(token)) is UNKNOWN


# -- a lookup written with `yield` (the review of issue 13) -------------------------------


async def _async_generator_lookup(token: str) -> Any:
    yield LEGACY_RECORD


def _generator_lookup(token: str) -> Any:
    yield LEGACY_RECORD


@pytest.mark.parametrize("lookup", [_async_generator_lookup, _generator_lookup])
def test_a_generator_from_the_lookup_is_not_a_record(ring: KeyRing, lookup: Any) -> None:
    """A generator is never None: taken for a record it would let any token in."""
    gate = make_gate(ring, "hybrid")
    assert gate.resolve("made-up-token", legacy=lambda t: lookup(t)) is None


@pytest.mark.parametrize("lookup", [_async_generator_lookup, _generator_lookup])
def test_async_resolve_refuses_a_generator_from_the_lookup(ring: KeyRing, lookup: Any) -> None:
    gate = make_gate(ring, "hybrid")
    assert asyncio.run(gate.resolve_async("made-up-token", legacy=lambda t: lookup(t))) is None


@pytest.mark.parametrize("lookup", [_async_generator_lookup, _generator_lookup])
def test_a_live_jwt_is_refused_when_the_lookup_gives_a_generator(
    ring: KeyRing, forge: Forge, lookup: Any
) -> None:
    gate = make_gate(ring, "hybrid", liveness="legacy")
    assert gate.resolve(forge.valid(), legacy=lambda t: lookup(t)) is None
