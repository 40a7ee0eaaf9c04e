"""RFC 7662 introspection: client authentication, exact inactive answers, both token kinds."""

from __future__ import annotations

import asyncio
import base64
import logging
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

import httpx
import pytest

from shims.introspection import Introspector, client_credentials, static_clients
from shims.keys import KeyRing
from shims.runtime import OAuthMigration
from tests.support.inproc_server import serve_asgi, serve_wsgi

from .apps import flask_app, starlette_app
from .attacks import ATTACKS
from .forge import ISSUER, RESOURCE, Forge
from .helpers import CLIENT_ID, CLIENT_SECRET, Clock, LegacyStore, make_gate, make_migration

INACTIVE = {"active": False}
JWT_MEMBERS = ("scope", "client_id", "sub", "aud", "iss", "exp", "iat", "jti")


def basic(client_id: str = CLIENT_ID, secret: str = CLIENT_SECRET) -> str:
    """RFC 6749 §2.3.1: form-urlencode both parts, then HTTP Basic."""
    pair = f"{quote_plus(client_id)}:{quote_plus(secret)}"
    return "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")


def post_form(token: str, **extra: str) -> dict[str, str]:
    return {"token": token, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **extra}


@dataclass
class LegacyToken:
    user_id: str
    client_id: str
    scopes: list[str]
    expires_at: datetime


def _introspector(ring: KeyRing, mode: str = "final", **kw: Any) -> Introspector:
    gate = make_gate(ring, mode, unknown=None, **kw)
    introspector = Introspector(
        gate, static_clients({CLIENT_ID: CLIENT_SECRET}), issuer=ISSUER, resource=RESOURCE
    )
    introspector.any_client = True  # the same-client rule has its own tests below
    return introspector


def test_another_clients_token_is_inactive_to_the_caller(ring: KeyRing, forge: Forge) -> None:
    """A caller introspecting a token issued to another client gets {"active": false}."""
    introspector = _introspector(ring)
    introspector.any_client = False
    token = forge.valid(client_id="someone-else")
    reply = introspector.handle(
        None, {"token": token, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    )
    assert reply.body == {"active": False}


def test_own_token_is_active_to_the_caller(ring: KeyRing, forge: Forge) -> None:
    """A caller introspecting a token issued to itself gets the full answer."""
    introspector = _introspector(ring)
    introspector.any_client = False
    token = forge.valid(client_id=CLIENT_ID)
    reply = introspector.handle(
        None, {"token": token, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    )
    assert reply.body["active"] is True


# -- client authentication (unit) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("authorization", "form_extra"),
    [
        (None, {}),
        (basic(secret="wrong"), {}),
        (basic(client_id="someone-else"), {}),
        (None, {"client_id": CLIENT_ID, "client_secret": "wrong"}),
        (None, {"client_id": CLIENT_ID}),
        ("Basic !!!not-base64!!!", {}),
        ("Basic " + base64.b64encode(b"no-colon").decode(), {}),
        ("Bearer " + CLIENT_SECRET, {}),
        ("Basic dXNlcjpwYXNz\u00e9", {}),
    ],
    ids=[
        "none",
        "basic_wrong_secret",
        "basic_unknown_client",
        "post_wrong_secret",
        "post_no_secret",
        "basic_junk",
        "basic_no_colon",
        "bearer_scheme",
        "basic_non_ascii",
    ],
)
def test_unauthenticated_caller_gets_401(
    ring: KeyRing, forge: Forge, authorization: str | None, form_extra: dict[str, str]
) -> None:
    """Without valid client credentials the answer is 401 invalid_client with a challenge."""
    reply = _introspector(ring).handle(authorization, {"token": forge.valid(), **form_extra})
    assert reply.status == 401
    assert reply.body == {"error": "invalid_client"}
    assert reply.headers["WWW-Authenticate"].startswith("Basic ")
    assert reply.headers["Cache-Control"] == "no-store"


def test_authenticator_that_raises_refuses(
    ring: KeyRing, forge: Forge, caplog: pytest.LogCaptureFixture
) -> None:
    """A client registry that raises gives 401, not a server error."""

    def broken(client_id: str, secret: str) -> bool:
        raise RuntimeError("registry down")

    introspector = Introspector(make_gate(ring, "final"), broken, issuer=ISSUER, resource=RESOURCE)
    with caplog.at_level(logging.ERROR):
        assert introspector.handle(basic(), {"token": forge.valid()}).status == 401


def test_client_secret_basic_works(ring: KeyRing, forge: Forge) -> None:
    """client_secret_basic with form-urlencoded id and secret authenticates."""
    reply = _introspector(ring).handle(basic(), {"token": forge.valid()})
    assert (reply.status, reply.body["active"]) == (200, True)


def test_client_secret_post_works(ring: KeyRing, forge: Forge) -> None:
    """client_secret_post (client_id and client_secret form fields) authenticates."""
    reply = _introspector(ring).handle(None, post_form(forge.valid()))
    assert (reply.status, reply.body["active"]) == (200, True)


def test_client_credentials_decodes_basic_parts() -> None:
    """Basic credentials are base64, then form-urlencoded parts (RFC 6749 §2.3.1)."""
    assert client_credentials(basic(), {}) == (CLIENT_ID, CLIENT_SECRET)


def test_missing_token_is_invalid_request(ring: KeyRing) -> None:
    """An authenticated request without a token is 400 invalid_request."""
    reply = _introspector(ring).handle(basic(), {})
    assert (reply.status, reply.body) == (400, {"error": "invalid_request"})


# -- answers (unit) ----------------------------------------------------------------------


def test_good_jwt_has_the_full_claim_set(ring: KeyRing, forge: Forge) -> None:
    """An active JWT answer carries active, token_type and every RFC 7662 member."""
    claims = forge.claims(scope="read write")
    reply = _introspector(ring).handle(basic(), {"token": forge.token(claims)})
    assert reply.status == 200
    assert reply.body == {
        "active": True,
        "token_type": "Bearer",
        **{name: claims[name] for name in JWT_MEMBERS},
    }
    assert reply.headers["Cache-Control"] == "no-store"


def test_hybrid_jwt_alive_in_the_legacy_store_is_active(ring: KeyRing, forge: Forge) -> None:
    """In hybrid, a good JWT that the legacy store still holds is active."""
    token = forge.valid()
    introspector = _introspector(ring, "hybrid", store=LegacyStore({token: {"sub": "user-1"}}))
    assert introspector.introspect(token)["active"] is True


def test_hybrid_jwt_dropped_from_the_legacy_store_is_inactive(ring: KeyRing, forge: Forge) -> None:
    """In hybrid, a good JWT that the legacy store dropped (revoked) is exactly inactive."""
    introspector = _introspector(ring, "hybrid", store=LegacyStore())
    assert introspector.introspect(forge.valid()) == INACTIVE


@pytest.mark.parametrize(
    "name",
    [
        "junk_base64_segments",
        "expired_beyond_leeway",
        "payload_sub_changed_under_old_signature",
        "foreign_key_reusing_our_kid",
        "foreign_key_with_embedded_jwk",
        "alg_none_empty_sig",
        "hs256_public_key_as_pem_spki",
        "typ_a_list",
        "token_of_100_kb",
        "non_ascii_token",
    ],
)
@pytest.mark.parametrize("mode", ["hybrid", "final"])
def test_bad_tokens_are_exactly_inactive(ring: KeyRing, forge: Forge, mode: str, name: str) -> None:
    """Garbage, expired, tampered and foreign tokens introspect to exactly {"active": false}."""
    reply = _introspector(ring, mode, store=LegacyStore()).handle(
        basic(), {"token": ATTACKS[name].build(forge)}
    )
    assert (reply.status, reply.body) == (200, INACTIVE)


def test_revoked_jwt_is_inactive(ring: KeyRing, forge: Forge) -> None:
    """A JWT revoked through gate.revoke introspects to exactly {"active": false}."""
    introspector = _introspector(ring)
    token = forge.valid()
    assert introspector.introspect(token)["active"] is True
    assert introspector.gate.revoke(token)
    assert introspector.introspect(token) == INACTIVE


@pytest.mark.parametrize(
    "record",
    [
        LegacyToken("user-9", "app-9", ["read", "write"], datetime(2100, 1, 1, tzinfo=UTC)),
        {"sub": "user-9", "client_id": "app-9", "scope": "read write", "exp": 4102444800},
    ],
    ids=["dataclass", "dict"],
)
def test_live_opaque_token_in_hybrid(ring: KeyRing, record: Any) -> None:
    """A live opaque token in hybrid is active with its record's sub, client_id, scope, exp."""
    introspector = _introspector(ring, "hybrid", store=LegacyStore({"opaque-1": record}))
    assert introspector.introspect("opaque-1") == {
        "active": True,
        "token_type": "Bearer",
        "iss": ISSUER,
        "aud": RESOURCE,
        "sub": "user-9",
        "client_id": "app-9",
        "scope": "read write",
        "exp": 4102444800,
    }


def test_expired_opaque_token_in_hybrid_is_inactive(ring: KeyRing, clock: Clock) -> None:
    """An opaque token whose legacy record expired is exactly inactive."""
    record = {"sub": "user-9", "client_id": "app-9", "exp": clock.now - 10}
    introspector = _introspector(ring, "hybrid", clock=clock, store=LegacyStore({"o": record}))
    assert introspector.introspect("o") == INACTIVE


def test_unknown_opaque_token_in_hybrid_is_inactive(ring: KeyRing) -> None:
    """An opaque token the legacy store does not know is exactly inactive."""
    assert _introspector(ring, "hybrid", store=LegacyStore()).introspect("nope") == INACTIVE


def test_opaque_token_in_final_is_inactive(ring: KeyRing) -> None:
    """In final, even an opaque token the legacy store still holds is inactive."""
    store = LegacyStore({"opaque-1": {"sub": "user-9"}})
    assert _introspector(ring, "final", store=store).introspect("opaque-1") == INACTIVE
    assert store.calls == []


def test_legacy_lookup_that_raises_gives_inactive(
    ring: KeyRing, caplog: pytest.LogCaptureFixture
) -> None:
    """A legacy store that raises yields inactive rather than a server error."""

    def broken(token: str) -> Any:
        raise RuntimeError("database down")

    with caplog.at_level(logging.ERROR):
        answer = _introspector(ring, "hybrid", legacy_lookup=broken).introspect("opaque")
    assert answer == INACTIVE


def test_strict_legacy_lookup_for_unknown_token_is_inactive(ring: KeyRing) -> None:
    """A legacy lookup that raises KeyError for an unknown token yields inactive."""
    store = LegacyStore()
    introspector = _introspector(ring, "hybrid", legacy_lookup=store.strict_lookup)
    assert introspector.introspect("opaque") == INACTIVE


@pytest.mark.parametrize("hint", ["access_token", "refresh_token", "no_such_hint", ""])
def test_token_type_hint_never_hides_a_token(ring: KeyRing, forge: Forge, hint: str) -> None:
    """Any token_type_hint, known or not, still finds the token (RFC 7662 §2.1)."""
    reply = _introspector(ring).handle(basic(), {"token": forge.valid(), "token_type_hint": hint})
    assert (reply.status, reply.body["active"]) == (200, True)


# -- over HTTP ---------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["starlette", "flask"])
def served(
    request: pytest.FixtureRequest, ring: KeyRing
) -> Iterator[tuple[httpx.Client, OAuthMigration, LegacyStore]]:
    store = LegacyStore({"opaque-live": {"sub": "u", "client_id": "c", "scope": "s"}})
    migration = make_migration(ring, store=store)
    app = starlette_app(migration) if request.param == "starlette" else flask_app(migration)
    serve = serve_asgi if request.param == "starlette" else serve_wsgi
    with serve(app) as base_url, httpx.Client(base_url=base_url, timeout=10) as client:
        yield client, migration, store


def test_http_requires_client_auth(
    served: tuple[httpx.Client, OAuthMigration, LegacyStore], forge: Forge
) -> None:
    """POST /introspect without client authentication is 401 with a challenge and no-store."""
    client, _, _ = served
    response = client.post("/introspect", data={"token": forge.valid()})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Basic ")
    assert response.headers["cache-control"] == "no-store"


def test_http_non_ascii_basic_credentials_are_401(
    served: tuple[httpx.Client, OAuthMigration, LegacyStore], forge: Forge
) -> None:
    """Basic credentials with bytes outside ASCII are a 401, not a server error."""
    client, _, _ = served
    response = client.post(
        "/introspect",
        data={"token": forge.valid()},
        headers={"Authorization": b"Basic \xe9\xe9\xe9"},
    )
    assert response.status_code == 401


def test_http_wrong_secret_is_401(
    served: tuple[httpx.Client, OAuthMigration, LegacyStore], forge: Forge
) -> None:
    """A wrong client secret over HTTP is 401."""
    client, _, _ = served
    response = client.post(
        "/introspect", data={"token": forge.valid()}, headers={"Authorization": basic(secret="x")}
    )
    assert response.status_code == 401
    assert "www-authenticate" in response.headers


@pytest.mark.parametrize("method", ["basic", "post"])
def test_http_good_jwt_is_active(
    served: tuple[httpx.Client, OAuthMigration, LegacyStore], forge: Forge, method: str
) -> None:
    """Over HTTP, both auth methods introspect a good JWT to its claims, with no-store."""
    client, _, store = served
    claims = forge.claims()
    token = forge.token(claims)
    store.records[token] = {"sub": claims["sub"]}
    if method == "basic":
        response = client.post(
            "/introspect", data={"token": token}, headers={"Authorization": basic()}
        )
    else:
        response = client.post("/introspect", data=post_form(token))
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {
        "active": True,
        "token_type": "Bearer",
        **{name: claims[name] for name in JWT_MEMBERS},
    }


def test_http_live_opaque_token_is_active(
    served: tuple[httpx.Client, OAuthMigration, LegacyStore],
) -> None:
    """Over HTTP in hybrid, a live opaque token is active with its record's members."""
    client, _, _ = served
    answer = client.post("/introspect", data=post_form("opaque-live")).json()
    assert (answer["active"], answer["sub"], answer["client_id"], answer["scope"]) == (
        True,
        "u",
        "c",
        "s",
    )


@pytest.mark.parametrize(
    "name", ["junk_base64_segments", "expired_beyond_leeway", "foreign_key_reusing_our_kid"]
)
def test_http_bad_token_is_exactly_inactive(
    served: tuple[httpx.Client, OAuthMigration, LegacyStore], forge: Forge, name: str
) -> None:
    """Over HTTP, a bad token is exactly {"active": false} with no-store."""
    client, _, _ = served
    response = client.post("/introspect", data=post_form(ATTACKS[name].build(forge)))
    assert response.status_code == 200
    assert response.json() == INACTIVE
    assert response.headers["cache-control"] == "no-store"


def test_http_revoked_jwt_is_inactive(
    served: tuple[httpx.Client, OAuthMigration, LegacyStore], forge: Forge
) -> None:
    """A JWT revoked through the runtime introspects to inactive over HTTP."""
    client, migration, store = served
    token = forge.valid()
    store.records[token] = {"sub": "user-1"}
    assert client.post("/introspect", data=post_form(token)).json()["active"] is True
    assert migration.revoke(token)
    assert client.post("/introspect", data=post_form(token)).json() == INACTIVE


def test_http_unknown_hint_is_not_an_error(
    served: tuple[httpx.Client, OAuthMigration, LegacyStore],
) -> None:
    """An unknown token_type_hint over HTTP is answered, not refused."""
    client, _, _ = served
    response = client.post("/introspect", data=post_form("opaque-live", token_type_hint="bogus"))
    assert (response.status_code, response.json()["active"]) == (200, True)


# -- finding 8: a record the legacy store marks revoked ----------------------------------


def _sqlite_store(*tokens: str) -> sqlite3.Connection:
    """A real SQLite token table with a soft-delete `revoked INTEGER` column."""
    db = sqlite3.connect(":memory:")
    db.row_factory = sqlite3.Row
    db.execute(
        "CREATE TABLE tokens (token TEXT PRIMARY KEY, client_id TEXT, user_id TEXT,"
        " scope TEXT, expires_at INTEGER, revoked INTEGER)"
    )
    for token in tokens:
        db.execute("INSERT INTO tokens VALUES (?, 'c', 'u', 's', 4102444800, 1)", (token,))
    return db


@pytest.mark.parametrize("kind", ["jwt", "opaque"])
def test_finding_8_a_token_revoked_in_a_sqlite_store_is_inactive(
    ring: KeyRing, forge: Forge, kind: str
) -> None:
    """A JWT or opaque token whose SQLite row says revoked = 1 introspects as inactive."""
    token = forge.valid() if kind == "jwt" else "opaque-legacy-token-123"
    db = _sqlite_store(token)

    def lookup(t: str) -> Any:
        return db.execute("SELECT * FROM tokens WHERE token = ?", (t,)).fetchone()

    introspector = _introspector(ring, "hybrid", legacy_lookup=lookup)
    assert introspector.introspect(token) == INACTIVE


@pytest.mark.parametrize("flag", [1, "1", True, "true", "TRUE", 2])
def test_finding_8_any_true_revoked_flag_makes_a_jwt_inactive(
    ring: KeyRing, forge: Forge, flag: Any
) -> None:
    """A legacy record of a JWT with a true `revoked` flag, in any spelling, is inactive."""
    token = forge.valid()
    store = LegacyStore({token: {"sub": "user-1", "revoked": flag}})
    assert _introspector(ring, "hybrid", store=store).introspect(token) == INACTIVE


@pytest.mark.parametrize("flag", [0, "0", None, False, "false", ""])
def test_finding_8_a_false_revoked_flag_keeps_an_opaque_token_active(
    ring: KeyRing, flag: Any
) -> None:
    """A legacy record with a false `revoked` flag (0, None, False, "false") stays active."""
    store = LegacyStore({"opaque-1": {"sub": "user-9", "revoked": flag}})
    assert _introspector(ring, "hybrid", store=store).introspect("opaque-1")["active"] is True


def _generator_lookup(token: str) -> Iterator[dict[str, str]]:
    yield {"sub": "user-1", "client_id": CLIENT_ID}


def test_a_lookup_that_gives_a_generator_makes_no_token_active(ring: KeyRing) -> None:
    """A generator is never None: taken for a record, every made-up token would be active."""
    introspector = _introspector(ring, "hybrid", legacy_lookup=_generator_lookup)
    assert introspector.introspect("made-up-token") == INACTIVE


def test_async_introspection_refuses_a_generator_from_the_lookup(ring: KeyRing) -> None:
    introspector = _introspector(ring, "hybrid", legacy_lookup=_generator_lookup)
    assert asyncio.run(introspector.introspect_async("made-up-token")) == INACTIVE
