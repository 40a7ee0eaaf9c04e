"""Starlette (and so FastAPI) routes for the runtime, and a bearer guard for new code.

Routes: ``GET /.well-known/jwks.json`` (cacheable), ``POST /introspect`` (RFC 7662),
the RFC 9728 documents at the root and path-inserted well-known URLs, and optionally
``GET /oauth-migrate/metrics`` in Prometheus text format. Form bodies are parsed here
with the standard library, so the emitted package needs no python-multipart.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.datastructures import URLPath
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, NoMatchFound, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .client_probe import PROBE_PREFIX, Answer, AsyncProbe
from .discovery import INTROSPECTION_PATH, JWKS_PATH, challenge_missing, fix_challenge, prm_paths
from .introspection import MAX_FORM_BYTES, parse_form
from .keys import KeysUnavailable
from .metrics import render_prometheus
from .runtime import OAuthMigration

if TYPE_CHECKING:
    from .deferred import DeferredMigration

AsyncAuthenticator = Callable[[str, str], Awaitable[bool]]
METRICS_PATH = "/oauth-migrate/metrics"


def _unavailable() -> Response:
    return JSONResponse(
        {"error": "temporarily_unavailable", "error_description": "signing keys unavailable"},
        503,
        headers={"Retry-After": "30"},
    )


def starlette_routes(
    migration: OAuthMigration,
    authenticate: AsyncAuthenticator | None = None,
    before_introspection: Callable[[], Awaitable[None]] | None = None,
) -> list[BaseRoute]:
    """Every route the migrated server must add, for ``routes=[...]`` or ``app.router``.

    ``authenticate`` checks introspection callers asynchronously; without it the
    runtime's own (synchronous) client authenticator is used.
    """

    async def jwks(request: Request) -> Response:
        try:
            body = migration.jwks()
        except KeysUnavailable:
            return _unavailable()
        max_age = migration.settings.jwks_max_age
        return JSONResponse(body, headers={"Cache-Control": f"public, max-age={max_age}"})

    async def introspect(request: Request) -> Response:
        raw = await _capped_body(request)
        if raw is None:
            return JSONResponse({"error": "invalid_request"}, 413)
        form = parse_form(raw)
        if before_introspection is not None:
            await before_introspection()
        reply = await migration.introspector.handle_async(
            request.headers.get("authorization"), form, authenticate
        )
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


async def _capped_body(request: Request) -> bytes | None:
    """The body, or None once it is over MAX_FORM_BYTES: the declared length is checked
    first, and the stream is read no further than the cap (callers are not yet
    authenticated, so what they send must not decide how much memory is used)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_FORM_BYTES:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    return bytes(body)


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
        response = await self._check(_authorization(scope), scope)
        if response is not None:
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _check(self, authorization: str, scope: Scope) -> Response | None:
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            challenge = challenge_missing(self.migration.resource_metadata_url)
            return _unauthorized(challenge)
        try:
            # The async path: the legacy lookup of an async server must be awaited.
            record = await self.migration.bearer_record_async(token)
        except KeysUnavailable:
            return _unavailable()
        if record is None:
            return _unauthorized(self.migration.www_authenticate("invalid or expired token"))
        scope.setdefault("state", {})["oauth_token"] = record
        return None


def _authorization(scope: Scope) -> str:
    """The first Authorization header, as Starlette's ``Headers.get`` reads it, without
    building a Request and its header list for every call."""
    for key, value in scope.get("headers", []):
        if key == b"authorization":
            text: str = value.decode("latin-1")
            return text
    return ""


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def _unauthorized(challenge: str) -> Response:
    body: dict[str, Any] = {"error": "invalid_token"}
    return JSONResponse(body, 401, headers={"WWW-Authenticate": challenge})


# -- installing on a legacy app ----------------------------------------------------------


def install(app: Any, migration: OAuthMigration, owner: DeferredMigration) -> None:
    """Add the routes the app lacks (in front, so a catch-all mount cannot shadow them)
    and the challenge fix; introspection callers are checked by the app's token endpoint
    unless the server registered its own authenticator."""
    authenticate: AsyncAuthenticator | None = None
    if owner.authenticate_client is None:
        authenticate = AsyncProbe(_asgi_poster(app, migration, owner))
    routes = starlette_routes(migration, authenticate, _gate_teacher(app, migration, owner))
    add_missing_routes(app, routes)
    app.add_middleware(
        ChallengeFix, resource_metadata=migration.resource_metadata_url, prefix=owner.mcp_path
    )


def add_missing_routes(app: Any, routes: list[BaseRoute]) -> None:
    """Put the routes whose path the app does not serve yet in front of its own (so a
    catch-all mount cannot shadow them), as one :class:`RuntimeRoutes` entry."""
    served = {path for route in app.router.routes for path in _paths_of(route)}
    ours = [r for r in routes if isinstance(r, Route) and r.path not in served]
    if ours:
        app.router.routes[0:0] = [RuntimeRoutes(ours)]


def _paths_of(route: BaseRoute) -> list[str]:
    if isinstance(route, RuntimeRoutes):
        return [r.path for r in route.routes]
    path = getattr(route, "path", None)
    return [path] if isinstance(path, str) else []


class RuntimeRoutes(BaseRoute):
    """The runtime's routes as one entry in front of the app's own.

    Every request of the app passes the routes in front of its own, so one test that
    rejects most paths at once (each of our paths is constant, so a request for one ends
    with it, whatever the root path) stands for one regular-expression match per route.
    A path that passes is matched by the routes themselves, as Starlette would.
    """

    def __init__(self, routes: list[Route]) -> None:
        self.routes = routes
        self._suffixes = tuple(route.path for route in routes)

    def _match(self, scope: Scope) -> tuple[Match, Scope, Route | None]:
        if scope["type"] not in ("http", "websocket") or not scope["path"].endswith(self._suffixes):
            return Match.NONE, {}, None
        partial: tuple[Match, Scope, Route | None] = (Match.NONE, {}, None)
        for route in self.routes:
            match, child = route.matches(scope)
            if match is Match.FULL:
                return match, child, route
            if match is Match.PARTIAL and partial[2] is None:
                partial = (match, child, route)  # the method is wrong: Starlette's 405
        return partial

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child, _ = self._match(scope)
        return match, child

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        for route in self.routes:
            try:
                return route.url_path_for(name, **path_params)
            except NoMatchFound:
                continue
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        _, _, route = self._match(scope)
        if route is None:  # the router only hands over a scope that matched
            raise RuntimeError(f"no runtime route for {scope['path']}")
        await route.handle(scope, receive, send)


def _asgi_poster(
    app: ASGIApp, migration: OAuthMigration, owner: DeferredMigration
) -> Callable[[dict[str, str], bytes], Awaitable[Answer]]:
    """POSTs to the app's own token endpoint, in process."""

    async def post(headers: dict[str, str], body: bytes) -> Answer:
        path = urlsplit(owner.token_endpoint).path or "/token"
        return await asgi_post(app, migration.settings.issuer, path, headers, body)

    return post


def _gate_teacher(
    app: ASGIApp, migration: OAuthMigration, owner: DeferredMigration
) -> Callable[[], Awaitable[None]]:
    """Sends the legacy gate one made-up bearer token, in process, so that it hands its
    lookup to the runtime (introspection needs it; the gate is where it is written)."""

    async def teach() -> None:
        if migration.gate.legacy_lookup is None:
            headers = {"Authorization": f"Bearer {PROBE_PREFIX}{secrets.token_urlsafe(16)}"}
            await asgi_post(app, migration.settings.issuer, owner.mcp_path, headers, b"")

    return teach


async def asgi_post(
    app: ASGIApp, issuer_url: str, path: str, headers: dict[str, str], body: bytes
) -> Answer:
    """One POST to ``app`` as a plain ASGI call, with the issuer's host; status and body."""
    issuer = urlsplit(issuer_url)
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    raw += [(b"host", issuer.netloc.encode("ascii")), (b"content-length", str(len(body)).encode())]
    scope: Scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": issuer.scheme or "http", "path": path, "raw_path": path.encode("ascii"),
        "query_string": b"", "root_path": "", "headers": raw, "client": ("127.0.0.1", 0),
        "server": (issuer.hostname or "127.0.0.1", issuer.port or 80), "state": {},
    }  # fmt: skip
    status, _, answer = await asgi_call(app, scope, body)
    return status, answer


async def asgi_call(
    app: ASGIApp, scope: Scope, body: bytes = b""
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """One in-process request to ``app``: its status, headers and whole body."""
    sent = False
    status = 500
    headers: list[tuple[bytes, bytes]] = []
    chunks: list[bytes] = []

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
            headers.extend(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(bytes(message.get("body", b"")))

    await app(scope, receive, send)
    return status, headers, b"".join(chunks)


class ChallengeFix:
    """ASGI middleware: every 401 under ``prefix`` gets a challenge naming the RFC 9728
    metadata (and ``invalid_token`` when a token was presented), whatever gate sent it."""

    def __init__(self, app: ASGIApp, resource_metadata: str, prefix: str = "/mcp") -> None:
        self.app = app
        self.resource_metadata = resource_metadata
        self.prefix = prefix.rstrip("/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # `async def`, though handing back the inner app's awaitable would save a coroutine
        # frame a request: middleware added after the install (OpenTelemetry's, through
        # asgiref's guarantee_single_callable) and uvicorn tell ASGI 3 from ASGI 2 by it.
        if scope["type"] != "http" or not _under(scope["path"], self.prefix):
            await self.app(scope, receive, send)
            return

        async def fixed(message: Message) -> None:
            # Only a 401 is looked at, so a request that passes pays one comparison here.
            if message["type"] == "http.response.start" and message.get("status") == 401:
                message = dict(message)
                headers = list(message.get("headers", []))
                message["headers"] = self._fix(headers, _bearer_presented(scope))
            await send(message)

        await self.app(scope, receive, fixed)

    def _fix(
        self, headers: list[tuple[bytes, bytes]], presented: bool
    ) -> list[tuple[bytes, bytes]]:
        kept = [(k, v) for k, v in headers if k.lower() != b"www-authenticate"]
        old = [v.decode("latin-1") for k, v in headers if k.lower() == b"www-authenticate"]
        bearer = next((v for v in old if v.lower().startswith("bearer")), None)
        others = [v for v in old if v is not bearer]
        new = fix_challenge(bearer, self.resource_metadata, presented)
        values = [new, *others] if bearer is not None or not others else others
        return kept + [(b"www-authenticate", v.encode("latin-1")) for v in values]


def _bearer_presented(scope: Scope) -> bool:
    """Whether the request carried a non-empty ``Authorization: Bearer`` credential."""
    return any(
        k == b"authorization" and v[:7].lower() == b"bearer " and bool(v[7:].strip())
        for k, v in scope.get("headers", [])
    )
