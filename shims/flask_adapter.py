"""Flask routes for the runtime, and a ``require_bearer`` decorator for new code.

The same endpoints as the Starlette adapter: JWKS, introspection, RFC 9728 documents,
optional Prometheus metrics. Flask parses the form itself; nothing else is needed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Flask, Response, g, jsonify, request
from flask.sansio.scaffold import Scaffold

from .discovery import INTROSPECTION_PATH, JWKS_PATH, challenge_missing, prm_paths
from .keys import KeysUnavailable
from .metrics import render_prometheus
from .runtime import OAuthMigration

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


def register_flask(target: Flask | Scaffold, migration: OAuthMigration) -> None:
    """Add the routes to a Flask app or blueprint (endpoint names start with ``oauth_migrate``)."""

    def jwks() -> Response:
        try:
            body = migration.jwks()
        except KeysUnavailable:
            return _unavailable()
        max_age = migration.settings.jwks_max_age
        return _json(body, headers={"Cache-Control": f"public, max-age={max_age}"})

    def introspect() -> Response:
        form = dict(request.form.items())
        reply = migration.introspector.handle(request.headers.get("Authorization"), form)
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

    target.add_url_rule(JWKS_PATH, "oauth_migrate_jwks", jwks, methods=["GET"])
    target.add_url_rule(
        INTROSPECTION_PATH, "oauth_migrate_introspect", introspect, methods=["POST"]
    )
    for i, path in enumerate(prm_paths(migration.settings.resource)):
        target.add_url_rule(path, f"oauth_migrate_prm_{i}", resource_metadata, methods=["GET"])
    if migration.settings.metrics_route:
        target.add_url_rule(METRICS_PATH, "oauth_migrate_metrics", metrics, methods=["GET"])


def require_bearer(migration: OAuthMigration) -> Callable[[F], F]:
    """A view decorator: the accepted record is ``flask.g.oauth_token``; else 401 (or 503)."""

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
