"""The Flask adapter: require_bearer and the routes, over waitress."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from flask import Flask

from shims.flask_adapter import register_flask, require_bearer
from shims.introspection import MAX_FORM_BYTES
from shims.keys import KeyRing
from shims.runtime import OAuthMigration
from tests.support.inproc_server import serve_wsgi

from .adapter_contract import AdapterContract, Serve
from .apps import flask_app
from .helpers import make_migration


@contextmanager
def serve_flask(migration: OAuthMigration) -> Iterator[str]:
    with serve_wsgi(flask_app(migration)) as base_url:
        yield base_url


class TestFlaskAdapter(AdapterContract):
    @pytest.fixture
    def serve(self) -> Serve:
        return serve_flask


def test_unguarded_routes_need_no_token(ring: KeyRing) -> None:
    """Discovery and JWKS routes answer without a token; only decorated views are guarded."""
    with serve_flask(make_migration(ring)) as base_url:
        assert httpx.get(base_url + "/.well-known/oauth-protected-resource/mcp").status_code == 200
        assert httpx.get(base_url + "/.well-known/jwks.json").status_code == 200
        assert httpx.get(base_url + "/mcp").status_code == 401


def test_finding_4_require_bearer_refuses_an_async_lookup_at_start_up(ring: KeyRing) -> None:
    """`require_bearer` over a runtime whose legacy lookup is `async def` fails at start-up."""

    async def lookup(token: str) -> Any:
        return None

    migration = make_migration(ring, legacy_lookup=lookup)
    with pytest.raises(TypeError, match="async"):
        require_bearer(migration)


def test_finding_4_register_flask_refuses_an_async_lookup_at_start_up(ring: KeyRing) -> None:
    """`register_flask` (synchronous introspection) refuses an `async def` legacy lookup."""

    async def lookup(token: str) -> Any:
        return None

    with pytest.raises(TypeError, match="async"):
        register_flask(Flask("t"), make_migration(ring, legacy_lookup=lookup))


@pytest.mark.parametrize("chunked", [False, True], ids=["content_length", "chunked"])
def test_finding_13_an_introspection_body_over_the_cap_is_413(ring: KeyRing, chunked: bool) -> None:
    """Flask's /introspect answers 413 to a form body over 64 KiB, however it is sent."""
    body = b"token=" + b"a" * (MAX_FORM_BYTES + 1)
    content: Any = iter([body]) if chunked else body
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    with serve_flask(make_migration(ring)) as base_url:
        response = httpx.post(base_url + "/introspect", content=content, headers=headers)
    assert response.status_code == 413
