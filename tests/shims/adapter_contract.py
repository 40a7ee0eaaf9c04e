"""What both framework adapters promise, run against each over real HTTP.

``test_starlette_adapter.py`` and ``test_flask_adapter.py`` subclass :class:`AdapterContract`
and give the ``serve`` fixture: a function that starts the framework's app around an
OAuthMigration and yields its base URL.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest

from shims.keys import MANIFEST, KeyFolder, KeyRing
from shims.runtime import OAuthMigration

from .apps import INVALID_TOKEN_CHALLENGE, PRM_URL, bearer
from .forge import Forge
from .helpers import Clock, LegacyStore, make_migration

Serve = Callable[[OAuthMigration], AbstractContextManager[str]]
MISSING_TOKEN_CHALLENGE = f'Bearer resource_metadata="{PRM_URL}"'


def _get(serve: Serve, migration: OAuthMigration, path: str, **kw: Any) -> httpx.Response:
    with serve(migration) as base_url:
        return httpx.get(base_url + path, timeout=10, **kw)


def _corrupt_folder(tmp_path: Path, kind: str) -> Path:
    folder = tmp_path / "keys"
    if kind == "missing":
        return folder
    KeyFolder(folder).generate()
    if kind == "corrupt_manifest":
        (folder / MANIFEST).write_text("{not json")
    else:
        pem = next(folder.glob("*.pem"))
        data = pem.read_bytes()
        pem.write_bytes(data[:100] + b"\xff" + data[101:] if kind == "binary_pem" else data[:200])
    return folder


class AdapterContract:
    """The guard and the routes, identical for every framework."""

    @pytest.fixture
    def serve(self) -> Serve:
        raise NotImplementedError

    @pytest.fixture
    def running(self, serve: Serve, ring: KeyRing) -> Iterator[tuple[httpx.Client, LegacyStore]]:
        store = LegacyStore({"opaque-live": {"sub": "legacy-user", "client_id": "c"}})
        migration = make_migration(ring, store=store)
        with serve(migration) as base_url, httpx.Client(base_url=base_url, timeout=10) as client:
            yield client, store

    # -- accepted --------------------------------------------------------------------------

    def test_valid_jwt_reaches_the_endpoint(
        self, serve: Serve, ring: KeyRing, forge: Forge
    ) -> None:
        """A valid JWT passes the guard and the endpoint sees the record (final mode)."""
        response = _get(
            serve,
            make_migration(ring, mode="final"),
            "/mcp",
            headers=bearer(forge.valid(sub="ann")),
        )
        assert (response.status_code, response.json()) == (200, {"ok": True, "sub": "ann"})

    def test_live_opaque_token_reaches_the_endpoint(
        self, running: tuple[httpx.Client, LegacyStore]
    ) -> None:
        """In hybrid, a live opaque token passes with the legacy record."""
        client, store = running
        response = client.get("/mcp", headers=bearer("opaque-live"))
        assert (response.status_code, response.json()) == (200, {"ok": True, "sub": "legacy-user"})
        assert store.calls[-1] == "opaque-live"

    def test_scheme_is_case_insensitive(self, running: tuple[httpx.Client, LegacyStore]) -> None:
        """`bearer` in any case is accepted as the scheme (RFC 7235 §2.1)."""
        client, _ = running
        response = client.get("/mcp", headers={"Authorization": "bEaReR opaque-live"})
        assert response.status_code == 200

    # -- refused ---------------------------------------------------------------------------

    @pytest.mark.parametrize(
        "headers",
        [{}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer"}],
        ids=["no_header", "basic_scheme", "scheme_only"],
    )
    def test_missing_token_gets_the_discovery_challenge(
        self, running: tuple[httpx.Client, LegacyStore], headers: dict[str, str]
    ) -> None:
        """A request without a bearer token is 401 with only the resource_metadata hint."""
        client, _ = running
        response = client.get("/mcp", headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == MISSING_TOKEN_CHALLENGE

    def test_unknown_opaque_token_is_401(self, running: tuple[httpx.Client, LegacyStore]) -> None:
        """An opaque token the legacy store does not know is 401 invalid_token."""
        client, _ = running
        response = client.get("/mcp", headers=bearer("no-such-token"))
        assert response.status_code == 401
        assert INVALID_TOKEN_CHALLENGE.match(response.headers["www-authenticate"])

    @pytest.mark.parametrize("flag", [1, "true"])
    def test_finding_8_a_record_marked_revoked_is_401(
        self, serve: Serve, ring: KeyRing, flag: Any
    ) -> None:
        """A live-looking legacy record with a true `revoked` flag is refused by the guard."""
        store = LegacyStore({"opaque-revoked": {"sub": "u", "client_id": "c", "revoked": flag}})
        migration = make_migration(ring, store=store)
        response = _get(serve, migration, "/mcp", headers=bearer("opaque-revoked"))
        assert response.status_code == 401

    @pytest.mark.parametrize("unknown", [False, 0, "", KeyError, LookupError("unknown")])
    def test_any_unknown_value_is_still_a_401(
        self, serve: Serve, ring: KeyRing, forge: Forge, unknown: Any
    ) -> None:
        """Whatever `unknown` the legacy code used (False, "", KeyError), the guard answers 401."""
        store = LegacyStore(
            missing=unknown if not isinstance(unknown, type | BaseException) else None
        )
        lookup = store.strict_lookup if isinstance(unknown, type | BaseException) else store.lookup
        migration = make_migration(ring, legacy_lookup=lookup, unknown=unknown)
        with serve(migration) as base_url:
            for token in (forge.valid(iss="https://evil.example.test"), "no-such-opaque-token"):
                response = httpx.get(base_url + "/mcp", headers=bearer(token), timeout=10)
                assert response.status_code == 401, token
                assert INVALID_TOKEN_CHALLENGE.match(response.headers["www-authenticate"])

    # -- keys unavailable ------------------------------------------------------------------

    @pytest.mark.parametrize("kind", ["missing", "corrupt_manifest", "binary_pem", "truncated_pem"])
    def test_unavailable_keys_are_503_for_the_guard(
        self, serve: Serve, tmp_path: Path, forge: Forge, kind: str
    ) -> None:
        """A missing or corrupt key folder makes the guard answer 503, never 401."""
        migration = make_migration(
            key_folder=str(_corrupt_folder(tmp_path, kind)), store=LegacyStore()
        )
        response = _get(serve, migration, "/mcp", headers=bearer(forge.valid()))
        assert response.status_code == 503
        assert response.json()["error"] == "temporarily_unavailable"
        assert "retry-after" in response.headers

    @pytest.mark.parametrize("kind", ["missing", "corrupt_manifest", "binary_pem", "truncated_pem"])
    def test_unavailable_keys_are_503_for_the_jwks(
        self, serve: Serve, tmp_path: Path, kind: str
    ) -> None:
        """A missing or corrupt key folder makes the JWKS route answer 503."""
        migration = make_migration(key_folder=str(_corrupt_folder(tmp_path, kind)))
        response = _get(serve, migration, "/.well-known/jwks.json")
        assert response.status_code == 503

    def test_guard_recovers_when_keys_appear(
        self, serve: Serve, tmp_path: Path, clock: Clock
    ) -> None:
        """Once the key folder exists, the guard stops answering 503 without a restart."""
        folder = tmp_path / "keys"
        migration = make_migration(key_folder=str(folder), mode="final", clock=clock)
        with serve(migration) as base_url:
            assert httpx.get(base_url + "/mcp", headers=bearer("a.b.c")).status_code == 503
            KeyFolder(folder).generate()
            clock.advance(2)
            token = migration.mint_access_token("user-1", "client-1")
            response = httpx.get(base_url + "/mcp", headers=bearer(token), timeout=10)
            assert (response.status_code, response.json()["sub"]) == (200, "user-1")
            assert json.loads(httpx.get(base_url + "/.well-known/jwks.json").text)["keys"]
