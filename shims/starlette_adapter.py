"""Starlette (and so FastAPI) routes for the runtime, and a bearer guard for new code.

Routes: ``GET /.well-known/jwks.json`` (cacheable), ``POST /introspect`` (RFC 7662),
the RFC 9728 documents at the root and path-inserted well-known URLs, and optionally
``GET /oauth-migrate/metrics`` in Prometheus text format. Form bodies are parsed here
with the standard library, so the emitted package needs no python-multipart.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from .discovery import INTROSPECTION_PATH, JWKS_PATH, challenge_missing, prm_paths
from .keys import KeysUnavailable
from .metrics import render_prometheus
from .runtime import OAuthMigration

METRICS_PATH = "/oauth-migrate/metrics"
MAX_FORM_BYTES = 64 * 1024


def _unavailable() -> Response:
    return JSONResponse(
        {"error": "temporarily_unavailable", "error_description": "signing keys unavailable"},
        503,
        headers={"Retry-After": "30"},
    )


def starlette_routes(migration: OAuthMigration) -> list[BaseRoute]:
    """Every route the migrated server must add, for ``routes=[...]`` or ``app.router``."""

    async def jwks(request: Request) -> Response:
        try:
            body = migration.jwks()
        except KeysUnavailable:
            return _unavailable()
        max_age = migration.settings.jwks_max_age
        return JSONResponse(body, headers={"Cache-Control": f"public, max-age={max_age}"})

    async def introspect(request: Request) -> Response:
        raw = await request.body()
        if len(raw) > MAX_FORM_BYTES:
            return JSONResponse({"error": "invalid_request"}, 413)
        form = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        reply = migration.introspector.handle(request.headers.get("authorization"), form)
        return JSONResponse(reply.body, reply.status, headers=reply.headers)

    async def resource_metadata(request: Request) -> Response:
        return JSONResponse(
            migration.protected_resource_metadata(),
            headers={"Cache-Control": "public, max-age=300"},
        )

    async def metrics(request: Request) -> Response:
        text = render_prometheus(migration.metrics)
        if text is None:
            return Response("prometheus_client is not installed\n", 501)
        return Response(text, media_type="text/plain; version=0.0.4; charset=utf-8")

    routes: list[BaseRoute] = [
        Route(JWKS_PATH, jwks, methods=["GET"]),
        Route(INTROSPECTION_PATH, introspect, methods=["POST"]),
    ]
    routes += [
        Route(path, resource_metadata, methods=["GET"])
        for path in prm_paths(migration.settings.resource)
    ]
    if migration.settings.metrics_route:
        routes.append(Route(METRICS_PATH, metrics, methods=["GET"]))
    return routes


class BearerGuard:
    """ASGI middleware: requests under ``prefix`` need a token the gate accepts.

    The accepted token's record is put in ``scope["state"]["oauth_token"]``. Every
    rejection is a 401 with the RFC 6750 / RFC 9728 challenge; missing keys are a 503.
    """

    def __init__(self, app: ASGIApp, migration: OAuthMigration, prefix: str = "/mcp") -> None:
        self.app = app
        self.migration = migration
        self.prefix = prefix.rstrip("/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _under(scope["path"], self.prefix):
            await self.app(scope, receive, send)
            return
        response = self._check(Request(scope).headers.get("authorization", ""), scope)
        if response is not None:
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _check(self, authorization: str, scope: Scope) -> Response | None:
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            challenge = challenge_missing(self.migration.resource_metadata_url)
            return _unauthorized(challenge)
        try:
            record = self.migration.bearer_record(token)
        except KeysUnavailable:
            return _unavailable()
        if record is None:
            return _unauthorized(self.migration.www_authenticate("invalid or expired token"))
        scope.setdefault("state", {})["oauth_token"] = record
        return None


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def _unauthorized(challenge: str) -> Response:
    body: dict[str, Any] = {"error": "invalid_token"}
    return JSONResponse(body, 401, headers={"WWW-Authenticate": challenge})
