"""The Flask adapter: require_bearer and the routes, over waitress."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

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
