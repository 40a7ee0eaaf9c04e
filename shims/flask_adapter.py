"""Flask routes for the runtime, and a ``require_bearer`` decorator for new code.

The same endpoints as the Starlette adapter: JWKS, introspection, RFC 9728 documents,
optional Prometheus metrics. Flask parses the form itself; nothing else is needed.
"""

from __future__ import annotations

import functools
import inspect
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import Flask, Response, g, jsonify, request
from flask.sansio.scaffold import Scaffold

from .client_probe import PROBE_PREFIX, Answer, SyncProbe
from .discovery import INTROSPECTION_PATH, JWKS_PATH, challenge_missing, fix_challenge, prm_paths
from .introspection import MAX_FORM_BYTES, ClientAuthenticator, parse_form
from .keys import KeysUnavailable
from .metrics import render_prometheus
from .runtime import OAuthMigration

if TYPE_CHECKING:
    from .deferred import DeferredMigration

METRICS_PATH = "/oauth-migrate/metrics"
F = TypeVar("F", bound=Callable[..., Any])


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers or {})
    return response


def _unavailable() -> Response:
    body = {"error": "temporarily_unavailable", "error_description": "signing keys unavailable"}
    return _json(body, 503, {"Retry-After": "30"})


def _capped_body() -> bytes | None:
    """The body, or None when it is over MAX_FORM_BYTES: the declared length first, then
    at most one byte past the cap from the stream (``request.form`` reads it all)."""
    declared = request.content_length
    if declared is not None and declared > MAX_FORM_BYTES:
        return None
    raw = request.stream.read(MAX_FORM_BYTES + 1)
    return None if len(raw) > MAX_FORM_BYTES else raw


def register_flask(
    target: Flask | Scaffold,
    migration: OAuthMigration,
    authenticate: ClientAuthenticator | None = None,
    skip: frozenset[str] = frozenset(),
    before_introspection: Callable[[], None] | None = None,
) -> None:
    """Add the routes to a Flask app or blueprint (endpoint names start with ``oauth_migrate``).

    ``authenticate`` checks introspection callers (default: the runtime's own); paths in
    ``skip`` are left to the app, which already serves them. Raises TypeError when the
    runtime's legacy lookup is ``async def`` (introspection here is synchronous).
    """
    _require_sync_lookup(migration, "register_flask")

    def jwks() -> Response:
        try:
            body = migration.jwks()
        except KeysUnavailable:
            return _unavailable()
        max_age = migration.settings.jwks_max_age
        return _json(body, headers={"Cache-Control": f"public, max-age={max_age}"})

    def introspect() -> Response:
        raw = _capped_body()
        if raw is None:
            return _json({"error": "invalid_request"}, 413)
        form = parse_form(raw)
        if before_introspection is not None:
            before_introspection()
        reply = migration.introspector.handle(
            request.headers.get("Authorization"), form, authenticate
        )
        return _json(reply.body, reply.status, reply.headers)

    def resource_metadata(**_: Any) -> Response:
        return _json(
            migration.protected_resource_metadata(),
            headers={"Cache-Control": "public, max-age=300"},
        )

    def metrics() -> Response:
        text = render_prometheus(migration.metrics)
        if text is None:
            return Response("prometheus_client is not installed\n", 501)
        return Response(text, mimetype="text/plain; version=0.0.4; charset=utf-8")

    rules: list[tuple[str, str, Callable[..., Response], str]] = [
        (JWKS_PATH, "oauth_migrate_jwks", jwks, "GET"),
        (INTROSPECTION_PATH, "oauth_migrate_introspect", introspect, "POST"),
    ]
    for i, path in enumerate(prm_paths(migration.settings.resource)):
        rules.append((path, f"oauth_migrate_prm_{i}", resource_metadata, "GET"))
    if migration.settings.metrics_route:
        rules.append((METRICS_PATH, "oauth_migrate_metrics", metrics, "GET"))
    for path, endpoint, view, method in rules:
        if path not in skip:
            target.add_url_rule(path, endpoint, view, methods=[method])


def _require_sync_lookup(migration: OAuthMigration, where: str) -> None:
    """Flask views are synchronous: an ``async def`` legacy lookup would hand them a
    coroutine, so it is refused when the app is built rather than on each request."""
    if inspect.iscoroutinefunction(migration.gate.legacy_lookup):
        raise TypeError(
            f"{where}: the legacy lookup is async, and Flask views cannot await it; "
            "give OAuthMigration a synchronous legacy_lookup"
        )


def require_bearer(migration: OAuthMigration) -> Callable[[F], F]:
    """A view decorator: the accepted record is ``flask.g.oauth_token``; else 401 (or 503).

    Raises TypeError at once when the runtime's legacy lookup is ``async def``.
    """
    _require_sync_lookup(migration, "require_bearer")

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            token = token.strip()
            if scheme.lower() != "bearer" or not token:
                challenge = challenge_missing(migration.resource_metadata_url)
                return _json({"error": "invalid_token"}, 401, {"WWW-Authenticate": challenge})
            try:
                record = migration.bearer_record(token)
            except KeysUnavailable:
                return _unavailable()
            if record is None:
                challenge = migration.www_authenticate("invalid or expired token")
                return _json({"error": "invalid_token"}, 401, {"WWW-Authenticate": challenge})
            g.oauth_token = record
            return view(*args, **kwargs)

        return cast(F, guarded)

    return decorate


# -- installing on a legacy app ----------------------------------------------------------


def install(app: Flask, migration: OAuthMigration, owner: DeferredMigration) -> None:
    """Add the routes the app lacks and the challenge fix; introspection callers are
    checked by the app's own token endpoint unless the server registered an authenticator."""
    authenticate: ClientAuthenticator | None = None
    if owner.authenticate_client is None:
        authenticate = SyncProbe(_test_client_poster(app, migration, owner))
    served = frozenset(rule.rule for rule in app.url_map.iter_rules())
    register_flask(app, migration, authenticate, served, _gate_teacher(app, migration, owner))
    prefix = owner.mcp_path.rstrip("/")

    def fix_401(response: Response) -> Response:
        path = request.path
        if response.status_code == 401 and (path == prefix or path.startswith(prefix + "/")):
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            presented = scheme.lower() == "bearer" and bool(token.strip())
            response.headers["WWW-Authenticate"] = fix_challenge(
                response.headers.get("WWW-Authenticate"),
                migration.resource_metadata_url,
                presented,
            )
        return response

    app.after_request(fix_401)


def _gate_teacher(
    app: Flask, migration: OAuthMigration, owner: DeferredMigration
) -> Callable[[], None]:
    """Sends the legacy gate one made-up bearer token, in process, so that it hands its
    lookup to the runtime (introspection needs it; the gate is where it is written)."""

    def teach() -> None:
        if migration.gate.legacy_lookup is None:
            headers = {"Authorization": f"Bearer {PROBE_PREFIX}{secrets.token_urlsafe(16)}"}
            with app.test_client() as client:
                client.post(owner.mcp_path, headers=headers, base_url=migration.settings.issuer)

    return teach


def _test_client_poster(
    app: Flask, migration: OAuthMigration, owner: DeferredMigration
) -> Callable[[dict[str, str], bytes], Answer]:
    """POSTs to the app's own token endpoint through Flask's test client, in process."""

    def post(headers: dict[str, str], body: bytes) -> Answer:
        path = urlsplit(owner.token_endpoint).path or "/token"
        with app.test_client() as client:
            answer = client.post(
                path, data=body, headers=headers, base_url=migration.settings.issuer
            )
            return answer.status_code, answer.get_data()

    return post
