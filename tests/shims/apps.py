"""Minimal Starlette and Flask servers around an OAuthMigration, as a migrated server mounts it.

``/mcp`` stands for the MCP endpoint: behind ``BearerGuard`` (Starlette) or
``require_bearer`` (Flask), it answers 200 with the subject of the accepted record.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, g
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shims.flask_adapter import register_flask, require_bearer
from shims.gate import field_of
from shims.runtime import OAuthMigration
from shims.starlette_adapter import BearerGuard, starlette_routes

PRM_URL = "https://mcp.example.test/.well-known/oauth-protected-resource/mcp"
INVALID_TOKEN_CHALLENGE = re.compile(
    r'^Bearer error="invalid_token", (?:error_description="[^"]*", )?'
    + r'resource_metadata="'
    + re.escape(PRM_URL)
    + r'"$'
)


def starlette_app(migration: OAuthMigration) -> Starlette:
    async def mcp(request: Request) -> JSONResponse:
        record = request.state.oauth_token
        return JSONResponse({"ok": True, "sub": _subject(record)})

    return Starlette(
        routes=[*starlette_routes(migration), Route("/mcp", mcp, methods=["GET", "POST"])],
        middleware=[Middleware(BearerGuard, migration=migration)],
    )


def flask_app(migration: OAuthMigration) -> Flask:
    app = Flask("shims_test_app")
    register_flask(app, migration)

    @app.route("/mcp", methods=["GET", "POST"])
    @require_bearer(migration)
    def mcp() -> dict[str, Any]:
        return {"ok": True, "sub": _subject(g.oauth_token)}

    return app


def _subject(record: Any) -> Any:
    subject = field_of(record, "sub") or field_of(record, "subject")
    return subject if isinstance(subject, str | int | None) else str(subject)


def bearer(token: str) -> dict[str, bytes]:
    """An Authorization header as raw bytes, so non-ASCII tokens go out as they are."""
    return {"Authorization": b"Bearer " + token.encode("utf-8")}
