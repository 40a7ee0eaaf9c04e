"""Small real collaborators for the shims tests: a clock, a legacy store, a metrics recorder."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from shims.gate import TokenGate
from shims.introspection import Introspector, static_clients
from shims.keys import KeyRing
from shims.runtime import OAuthMigration
from shims.settings import Settings
from shims.verifier import JwtVerifier, VerifiedToken

from .forge import ISSUER, LEEWAY, RESOURCE

CLIENT_ID = "resource-server"
CLIENT_SECRET = "s3cr:t+/= with spaces"
CLIENTS = {CLIENT_ID: CLIENT_SECRET}


class Unknown:
    """A sentinel for the legacy lookup's answer to an unknown token."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = Unknown()


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float | None = None) -> None:
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class LegacyStore:
    """A dict-backed legacy token store that records every lookup."""

    def __init__(self, records: Mapping[str, Any] | None = None, missing: Any = None) -> None:
        self.records: dict[str, Any] = dict(records or {})
        self.missing = missing
        self.calls: list[str] = []

    def lookup(self, token: str) -> Any:
        self.calls.append(token)
        return self.records.get(token, self.missing)

    def strict_lookup(self, token: str) -> Any:
        """``TOKENS[token]``: raises KeyError for an unknown token."""
        self.calls.append(token)
        return self.records[token]


class Recorder:
    """Records ``validation`` calls as (kind, outcome, reason, client_id) tuples."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, str, str | None]] = []

    def validation(
        self, kind: str, outcome: str, reason: str, client_id: str | None = None
    ) -> None:
        self.events.append((kind, outcome, reason, client_id))


class CountingVerifier(JwtVerifier):
    """A real verifier that counts how often it is asked to verify."""

    verifications = 0

    # verify_segments: every verification passes there (verify splits, then calls it).
    def verify_segments(self, token: str, segments: list[str]) -> VerifiedToken:
        self.verifications += 1
        return super().verify_segments(token, segments)


def make_verifier(
    ring: KeyRing, clock: Callable[[], float] = time.time, **kw: Any
) -> CountingVerifier:
    return CountingVerifier(
        ring, issuer=ISSUER, audiences=[RESOURCE], leeway=LEEWAY, clock=clock, **kw
    )


def make_gate(
    ring: KeyRing,
    mode: str = "hybrid",
    *,
    clock: Callable[[], float] = time.time,
    store: LegacyStore | None = None,
    **kw: Any,
) -> TokenGate[Any]:
    kw.setdefault("unknown", UNKNOWN)
    if store is not None:
        kw.setdefault("legacy_lookup", store.lookup)
    return TokenGate(make_verifier(ring, clock), mode=mode, **kw)


def make_introspector(gate: TokenGate[Any], any_client: bool = True) -> Introspector:
    """An introspector; by default its callers may see every client's tokens (the tests
    of the same-client rule turn that off)."""
    introspector = Introspector(gate, static_clients(CLIENTS), issuer=ISSUER, resource=RESOURCE)
    introspector.any_client = any_client
    return introspector


def settings(**kw: Any) -> Settings:
    kw.setdefault("environ", {})
    kw.setdefault("leeway", LEEWAY)
    return Settings(issuer=ISSUER, resource=RESOURCE, **kw)


def make_migration(
    ring: KeyRing | None = None, *, store: LegacyStore | None = None, **kw: Any
) -> OAuthMigration:
    """An OAuthMigration over ``ring`` (or over ``settings.key_folder`` when ring is None)."""
    setting_names = {"mode", "key_folder", "scopes", "jwks_max_age", "audiences", "lifetime"}
    chosen = {k: kw.pop(k) for k in list(kw) if k in setting_names}
    if store is not None:
        kw.setdefault("legacy_lookup", store.lookup)
    kw.setdefault("authenticate_client", static_clients(CLIENTS))
    migration = OAuthMigration(settings(**chosen), keyring=ring, **kw)
    migration.introspector.any_client = True  # the same-client rule is tested on its own
    return migration
