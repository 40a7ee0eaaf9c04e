"""The Starlette adapter: BearerGuard and the routes, over uvicorn."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from shims.keys import KeyRing
from shims.runtime import OAuthMigration
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
