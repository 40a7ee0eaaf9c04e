"""The Starlette adapter: BearerGuard and the routes, over uvicorn."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from shims.keys import KeyRing
from shims.runtime import OAuthMigration
from shims.starlette_adapter import BearerGuard, ChallengeFix
from tests.support.inproc_server import serve_asgi

from .adapter_contract import AdapterContract, Serve
from .apps import bearer, starlette_app
from .forge import Forge
from .helpers import make_migration


@contextmanager
def serve_starlette(migration: OAuthMigration) -> Iterator[str]:
    with serve_asgi(starlette_app(migration)) as base_url:
        yield base_url


class TestStarletteAdapter(AdapterContract):
    @pytest.fixture
    def serve(self) -> Serve:
        return serve_starlette


def test_guard_covers_paths_under_the_prefix(ring: KeyRing) -> None:
    """BearerGuard guards /mcp and /mcp/...; other paths pass through unguarded."""
    with serve_starlette(make_migration(ring)) as base_url:
        assert httpx.get(base_url + "/mcp/sub/path").status_code == 401
        assert httpx.get(base_url + "/mcpx").status_code == 404
        assert httpx.get(base_url + "/.well-known/oauth-protected-resource").status_code == 200


def test_guard_puts_the_record_in_request_state(ring: KeyRing, forge: Forge) -> None:
    """The accepted record is what the endpoint reads from request.state.oauth_token."""
    with serve_starlette(make_migration(ring, mode="final")) as base_url:
        response = httpx.get(base_url + "/mcp", headers=bearer(forge.valid(sub="zoe")))
    assert response.json() == {"ok": True, "sub": "zoe"}


class AsyncStore:
    """An async legacy store (asyncpg, motor, aiosqlite): lookups must be awaited."""

    def __init__(self, records: dict[str, Any]) -> None:
        self.records = records

    async def get(self, token: str) -> Any:
        await asyncio.sleep(0)
        return self.records.get(token)


def _async_store_app(migration: OAuthMigration, store: AsyncStore) -> Starlette:
    """A legacy gate that hands the runtime its async lookup, and a route behind BearerGuard."""

    async def legacy(request: Request) -> JSONResponse:
        token = request.headers.get("authorization", "").partition(" ")[2]
        record = await migration.resolve_async(token, legacy=lambda t: store.get(t))
        return JSONResponse({"found": record is not None})

    async def guarded(request: Request) -> JSONResponse:
        return JSONResponse({"sub": request.scope["state"]["oauth_token"]["sub"]})

    return Starlette(
        routes=[Route("/legacy", legacy), Route("/admin/export", guarded)],
        middleware=[Middleware(BearerGuard, migration=migration, prefix="/admin")],
    )


@pytest.mark.parametrize("kind", ["made_up", "jwt_gone_from_the_store"])
def test_finding_4_bearer_guard_refuses_what_an_async_store_does_not_hold(
    ring: KeyRing, forge: Forge, kind: str
) -> None:
    """With an async legacy lookup, BearerGuard refuses a token the store does not hold."""
    store = AsyncStore({"opaque-live": {"sub": "ann"}})
    migration = make_migration(ring)
    token = "made-up-by-the-attacker" if kind == "made_up" else forge.valid()
    with serve_asgi(_async_store_app(migration, store)) as base_url:
        httpx.get(base_url + "/legacy", headers=bearer("opaque-live"))  # the lookup is learned
        response = httpx.get(base_url + "/admin/export", headers=bearer(token))
    assert response.status_code == 401


def test_finding_4_bearer_guard_awaits_an_async_store(ring: KeyRing) -> None:
    """With an async legacy lookup, BearerGuard passes a live opaque token with its record."""
    store = AsyncStore({"opaque-live": {"sub": "ann"}})
    migration = make_migration(ring)
    with serve_asgi(_async_store_app(migration, store)) as base_url:
        httpx.get(base_url + "/legacy", headers=bearer("opaque-live"))
        response = httpx.get(base_url + "/admin/export", headers=bearer("opaque-live"))
    assert (response.status_code, response.json()) == (200, {"sub": "ann"})


# -- finding 13: the /introspect body cap bounds what is read --------------------------


def _raw_post(base_url: str, head: bytes, body: bytes) -> bytes:
    """Send a request's head and only the first part of its body; the status line back."""
    host, _, port = base_url.removeprefix("http://").partition(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head + body)
        return sock.recv(200).split(b"\r\n")[0]


def test_finding_13_a_declared_length_over_the_cap_is_413_before_the_body(ring: KeyRing) -> None:
    """A Content-Length over 64 KiB is answered 413 without waiting for the body."""
    head = (
        b"POST /introspect HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: 419430400\r\n\r\n"
    )
    with serve_starlette(make_migration(ring)) as base_url:
        status = _raw_post(base_url, head, b"a" * 1024)
    assert status.split(b" ")[1] == b"413"


def test_finding_13_a_chunked_body_over_the_cap_is_413_once_the_cap_is_read(
    ring: KeyRing,
) -> None:
    """A chunked body is read only up to the cap: 413 while the client is still sending."""
    head = (
        b"POST /introspect HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"a" * 16384
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(5))  # no last chunk
    with serve_starlette(make_migration(ring)) as base_url:
        status = _raw_post(base_url, head, chunks)
    assert status.split(b" ")[1] == b"413"


def test_the_challenge_fix_is_an_asgi3_app_to_whoever_asks() -> None:
    """uvicorn, and middleware added after the install (asgiref's guarantee_single_callable
    in OpenTelemetry's), tell ASGI 3 from ASGI 2 by `async def`: taken for ASGI 2, every
    request through the challenge fix would fail with a 500 and no challenge."""

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        return None

    config = uvicorn.Config(
        ChallengeFix(inner, "http://127.0.0.1/.well-known/oauth-protected-resource/mcp"),
        lifespan="off",
    )
    config.load()
    assert config.interface == "asgi3"
