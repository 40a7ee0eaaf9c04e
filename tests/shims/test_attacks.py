"""The attack battery against the gate (both modes) and both adapters over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from shims.keys import KeyRing
from tests.support.inproc_server import serve_asgi, serve_wsgi

from .apps import INVALID_TOKEN_CHALLENGE, bearer, flask_app, starlette_app
from .attacks import ATTACKS
from .forge import Forge
from .helpers import UNKNOWN, LegacyStore, Recorder, make_gate, make_migration

NAMES = sorted(ATTACKS)


@pytest.fixture(scope="module")
def attack_tokens(forge: Forge) -> dict[str, str]:
    return {name: attack.build(forge) for name, attack in ATTACKS.items()}


@pytest.fixture(scope="module")
def http_store() -> LegacyStore:
    return LegacyStore({"a-live-opaque-token": {"sub": "legacy-user", "client_id": "c"}})


@pytest.fixture(scope="module", params=["starlette", "flask"])
def server(request: pytest.FixtureRequest, ring: KeyRing, http_store: LegacyStore) -> Iterator[str]:
    migration = make_migration(ring, store=http_store)
    if request.param == "starlette":
        with serve_asgi(starlette_app(migration)) as base_url:
            yield base_url
    else:
        with serve_wsgi(flask_app(migration)) as base_url:
            yield base_url


@pytest.fixture(scope="module")
def http(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=10) as client:
        yield client


def test_battery_is_not_empty_and_tokens_are_distinct(attack_tokens: dict[str, str]) -> None:
    """Every attack builds a distinct token, so no case silently duplicates another."""
    assert len(set(attack_tokens.values())) == len(attack_tokens) >= 50


@pytest.mark.parametrize("mode", ["hybrid", "final"])
@pytest.mark.parametrize("name", NAMES)
def test_gate_rejects(ring: KeyRing, attack_tokens: dict[str, str], mode: str, name: str) -> None:
    """The gate answers the legacy `unknown` value for the attack token, without raising."""
    gate = make_gate(ring, mode, store=LegacyStore(missing=UNKNOWN))
    assert gate.resolve(attack_tokens[name]) is UNKNOWN


@pytest.mark.parametrize("name", NAMES)
def test_gate_counts_the_rejection(ring: KeyRing, attack_tokens: dict[str, str], name: str) -> None:
    """A rejected attack is counted once, as a rejection, never as accepted."""
    recorder = Recorder()
    gate = make_gate(ring, "final", store=LegacyStore(missing=UNKNOWN), metrics=recorder)
    gate.resolve(attack_tokens[name])
    assert [event[1] for event in recorder.events] == ["rejected"]


@pytest.mark.parametrize("name", [n for n in NAMES if ATTACKS[n].jwt_shaped])
def test_hybrid_never_retries_a_bad_jwt_as_opaque(
    ring: KeyRing, attack_tokens: dict[str, str], name: str
) -> None:
    """A JWT-shaped token that fails verification never reaches the legacy lookup."""
    store = LegacyStore(missing=UNKNOWN)
    gate = make_gate(ring, "hybrid", store=store)
    legacy_calls: list[str] = []
    gate.resolve(attack_tokens[name], legacy=lambda t: legacy_calls.append("called"))
    gate.resolve(attack_tokens[name])
    assert store.calls == legacy_calls == []


@pytest.mark.parametrize("name", [n for n in NAMES if not ATTACKS[n].jwt_shaped])
def test_final_refuses_opaque_shaped_junk_without_legacy(
    ring: KeyRing, attack_tokens: dict[str, str], name: str
) -> None:
    """In the final mode even junk that is opaque by shape never reaches the legacy lookup."""
    store = LegacyStore(missing=UNKNOWN)
    gate = make_gate(ring, "final", store=store)
    gate.resolve(attack_tokens[name])
    assert store.calls == []


@pytest.mark.parametrize("name", NAMES)
def test_adapter_answers_401_with_challenge(
    http: httpx.Client, http_store: LegacyStore, attack_tokens: dict[str, str], name: str
) -> None:
    """Over HTTP the guard answers 401 invalid_token with the resource_metadata hint."""
    token = attack_tokens[name]
    response = http.get("/mcp", headers=bearer(token))
    assert response.status_code == 401, response.text
    assert INVALID_TOKEN_CHALLENGE.match(response.headers["www-authenticate"])
    assert response.json() == {"error": "invalid_token"}
    if ATTACKS[name].jwt_shaped:
        assert token not in http_store.calls


def test_adapter_accepts_a_valid_token(
    http: httpx.Client, http_store: LegacyStore, forge: Forge
) -> None:
    """The same server accepts a good JWT present in the legacy store (the battery's control)."""
    token = forge.valid(sub="alice")
    http_store.records[token] = {"sub": "alice", "client_id": "client-1"}
    response = http.get("/mcp", headers=bearer(token))
    assert response.status_code == 200
    assert response.json() == {"ok": True, "sub": "alice"}


def test_gate_accepts_a_valid_token(ring: KeyRing, forge: Forge) -> None:
    """The battery's control at gate level: a good token passes in the final mode."""
    gate = make_gate(ring, "final")
    record: Any = gate.resolve(forge.valid(sub="alice"))
    assert record is not UNKNOWN
    assert record.subject == "alice"
