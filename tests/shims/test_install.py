"""Installing the runtime on a legacy app: routes, the 401 challenge fix, introspection auth.

The legacy apps here are small but real: a token endpoint that checks clients before
grants (as legacy servers do), a metadata route and a gate in front of /mcp that answers
401 without ``resource_metadata``. Everything is exercised over real HTTP.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

import httpx
import pytest
from flask import Flask, jsonify
from flask import request as flask_request
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from shims.deferred import DeferredMigration
from shims.keys import KeyFolder
from tests.support.inproc_server import serve_asgi, serve_wsgi

CLIENTS: dict[str, str | None] = {"conf": "s3cret", "pub": None}
SESSIONS = {"opaque-token-1": {"user_id": "ada", "client_id": "conf", "scope": "mcp"}}


def _credentials(authorization: str, form: dict[str, str]) -> tuple[str, str]:
    if authorization.lower().startswith("basic "):
        pair = base64.b64decode(authorization[6:]).decode()
        client_id, _, secret = pair.partition(":")
        return unquote(client_id), unquote(secret)
    return form.get("client_id", ""), form.get("client_secret", "")


def legacy_token_answer(authorization: str, form: dict[str, str]) -> tuple[int, dict[str, str]]:
    """The legacy token endpoint: clients first (public ones need no secret), then grants.

    Like many real ones, it checks the secret's shape before its value (finding 9)."""
    client_id, secret = _credentials(authorization, form)
    if len(secret) < 4:
        return 400, {"error": "invalid_request"}
    if client_id not in CLIENTS:
        return 401, {"error": "invalid_client"}
    expected = CLIENTS[client_id]
    if expected is not None and secret != expected:
        return 401, {"error": "invalid_client"}
    return 400, {"error": "invalid_grant"}


def metadata(base: str) -> dict[str, Any]:
    return {
        "issuer": base,
        "authorization_endpoint": base + "/authorize",
        "token_endpoint": base + "/token",
        "scopes_supported": ["mcp"],
    }


@pytest.fixture
def migration(key_folder: Path, tmp_path: Path) -> DeferredMigration:
    return DeferredMigration(mode="hybrid", key_folder=str(key_folder), metrics_path=None)


def starlette_app(migration: DeferredMigration) -> Starlette:
    async def token(request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        status, body = legacy_token_answer(request.headers.get("authorization", ""), form)
        return JSONResponse(body, status)

    async def mcp(request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        record = migration.resolve(token.strip(), legacy=lambda t: SESSIONS.get(t))
        if record is None:
            return JSONResponse({}, 401, headers={"WWW-Authenticate": 'Bearer realm="mcp"'})
        return JSONResponse({"user": record["user_id"]})

    async def own_prm(request: Request) -> Response:
        return JSONResponse({"resource": "legacy's own"})

    app = Starlette(
        routes=[
            Route("/token", token, methods=["POST"]),
            Route("/mcp", mcp, methods=["POST"]),
            Route("/.well-known/oauth-protected-resource", own_prm),
        ]
    )
    return app


@pytest.fixture
def starlette_url(migration: DeferredMigration) -> Iterator[str]:
    app = starlette_app(migration)
    with serve_asgi(app) as url:
        migration.install_starlette(app, issuer=url)
        migration.authorization_server_metadata(metadata(url))
        yield url


def flask_app(migration: DeferredMigration) -> Flask:
    app = Flask(__name__)

    @app.post("/token")
    def token() -> Any:
        status, body = legacy_token_answer(
            flask_request.headers.get("Authorization", ""), dict(flask_request.form)
        )
        return jsonify(body), status

    @app.post("/mcp")
    def mcp() -> Any:
        token = flask_request.headers.get("Authorization", "").partition(" ")[2].strip()
        record = migration.resolve(token, legacy=lambda t: SESSIONS.get(t))
        if record is None:
            return jsonify({}), 401, {"WWW-Authenticate": 'Bearer error="invalid_grant"'}
        return jsonify({"user": record["user_id"]})

    return app


@pytest.fixture
def flask_url(migration: DeferredMigration) -> Iterator[str]:
    app = flask_app(migration)
    with serve_wsgi(app) as url:
        migration.install_flask(app, issuer=url)
        migration.authorization_server_metadata(metadata(url))
        yield url


def introspect(url: str, auth: tuple[str, str] | None, token: str) -> httpx.Response:
    return httpx.post(url + "/introspect", data={"token": token}, auth=auth, timeout=10)


# -- Starlette ---------------------------------------------------------------------------


def test_starlette_install_serves_the_jwks(starlette_url: str) -> None:
    """The installed app serves the public JWKS with a Cache-Control header."""
    response = httpx.get(starlette_url + "/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.json()["keys"]
    assert "max-age" in response.headers["cache-control"]


def test_starlette_install_serves_path_inserted_prm(starlette_url: str) -> None:
    """The RFC 9728 document for /mcp is served with the issuer as authorization server."""
    document = httpx.get(starlette_url + "/.well-known/oauth-protected-resource/mcp").json()
    assert document["authorization_servers"] == [starlette_url]
    assert document["resource"] == starlette_url + "/mcp"


def test_starlette_install_keeps_a_route_the_app_already_serves(starlette_url: str) -> None:
    """A PRM path the legacy app serves stays the legacy app's."""
    response = httpx.get(starlette_url + "/.well-known/oauth-protected-resource")
    assert response.json() == {"resource": "legacy's own"}


def test_starlette_401_gains_resource_metadata(starlette_url: str) -> None:
    """A legacy 401 at /mcp now names the RFC 9728 metadata URL."""
    response = httpx.post(starlette_url + "/mcp")
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert f'resource_metadata="{starlette_url}/.well-known/oauth-protected-resource/mcp"' in (
        challenge
    )


def test_starlette_401_for_a_presented_token_says_invalid_token(starlette_url: str) -> None:
    """A refused token gets error="invalid_token" added to the legacy challenge."""
    response = httpx.post(starlette_url + "/mcp", headers={"Authorization": "Bearer nope"})
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_starlette_jwt_and_opaque_both_pass_the_legacy_gate(
    starlette_url: str, migration: DeferredMigration
) -> None:
    """Behind the install, a minted JWT stored in the legacy store and an opaque token pass."""
    jwt = migration.mint_access_token("ada", "conf", "mcp")
    SESSIONS[jwt] = {"user_id": "ada", "client_id": "conf", "scope": "mcp"}
    for token in (jwt, "opaque-token-1"):
        response = httpx.post(starlette_url + "/mcp", headers={"Authorization": f"Bearer {token}"})
        assert response.json() == {"user": "ada"}


def test_introspection_first_learns_the_lookup_from_the_gate(starlette_url: str) -> None:
    """Right after start, introspection has the gate hand over its lookup, then answers."""
    response = introspect(starlette_url, ("conf", "s3cret"), "opaque-token-1")
    assert response.json()["active"] is True


def test_starlette_introspection_accepts_the_right_secret(starlette_url: str) -> None:
    """A confidential client with its secret may introspect (checked by the legacy /token)."""
    httpx.post(starlette_url + "/mcp", headers={"Authorization": "Bearer opaque-token-1"})
    response = introspect(starlette_url, ("conf", "s3cret"), "opaque-token-1")
    assert response.status_code == 200
    assert response.json()["active"] is True
    assert response.json()["sub"] == "ada"


def test_starlette_introspection_refuses_a_wrong_secret(starlette_url: str) -> None:
    """A wrong secret gets 401 from introspection."""
    assert introspect(starlette_url, ("conf", "wrong"), "opaque-token-1").status_code == 401


def test_finding_9_a_secret_refused_for_its_shape_is_not_taken_as_right(
    starlette_url: str,
) -> None:
    """A secret the token endpoint rejects as invalid_request (too short) cannot introspect."""
    httpx.post(starlette_url + "/mcp", headers={"Authorization": "Bearer opaque-token-1"})
    assert introspect(starlette_url, ("conf", "x"), "opaque-token-1").status_code == 401


def test_starlette_introspection_refuses_a_public_client(starlette_url: str) -> None:
    """A public client (whose secret the legacy endpoint ignores) cannot introspect."""
    assert introspect(starlette_url, ("pub", "anything"), "opaque-token-1").status_code == 401


def test_starlette_introspection_refuses_no_credentials(starlette_url: str) -> None:
    """No client authentication: 401."""
    assert introspect(starlette_url, None, "opaque-token-1").status_code == 401


def test_registered_authenticator_replaces_the_probe(
    key_folder: Path, migration: DeferredMigration
) -> None:
    """A server's own authenticator is used instead of probing the token endpoint."""
    migration.authenticate_clients_with(lambda client_id, secret: client_id == "pub")
    app = starlette_app(migration)
    with serve_asgi(app) as url:
        migration.install_starlette(app, issuer=url)
        httpx.post(url + "/mcp", headers={"Authorization": "Bearer opaque-token-1"})
        assert introspect(url, ("pub", "x"), "opaque-token-1").status_code == 200
        assert introspect(url, ("conf", "s3cret"), "opaque-token-1").status_code == 401


# -- Flask -------------------------------------------------------------------------------


def test_flask_install_serves_the_jwks(flask_url: str) -> None:
    """The installed Flask app serves the public JWKS."""
    assert httpx.get(flask_url + "/.well-known/jwks.json").json()["keys"]


def test_flask_401_is_rewritten(flask_url: str) -> None:
    """A Flask 401 saying invalid_grant now says invalid_token and names the metadata."""
    response = httpx.post(flask_url + "/mcp", headers={"Authorization": "Bearer nope"})
    challenge = response.headers["www-authenticate"]
    assert 'error="invalid_token"' in challenge
    assert "invalid_grant" not in challenge
    assert "resource_metadata=" in challenge


def test_flask_introspection_first_learns_the_lookup(flask_url: str) -> None:
    """Right after start, Flask introspection also learns the lookup from the gate."""
    response = introspect(flask_url, ("conf", "s3cret"), "opaque-token-1")
    assert response.json()["sub"] == "ada"


def test_flask_introspection_checks_the_secret(flask_url: str) -> None:
    """Flask introspection accepts the right secret and refuses a wrong one."""
    assert introspect(flask_url, ("conf", "s3cret"), "opaque-token-1").status_code == 200
    assert introspect(flask_url, ("conf", "bad"), "opaque-token-1").status_code == 401


# -- the runtime's routes as one entry in front of the app's ------------------------------


def test_runtime_routes_answer_405_for_a_wrong_method(starlette_url: str) -> None:
    """A POST to the JWKS route is Starlette's 405, as when each route stood alone."""
    answer = httpx.post(starlette_url + "/.well-known/jwks.json")
    assert answer.status_code == 405


def test_runtime_routes_leave_the_app_routes_to_the_app(starlette_url: str) -> None:
    """A path that only ends like one of ours (and the app's own PRM) reaches the app."""
    assert httpx.get(starlette_url + "/.well-known/oauth-protected-resource").json() == {
        "resource": "legacy's own"
    }
    assert httpx.get(starlette_url + "/x/.well-known/jwks.json").status_code == 404


def test_runtime_routes_stand_in_front_of_a_catch_all_mount(tmp_path: Path) -> None:
    """A Mount("/") of the app (the MCP SDK's shape) does not shadow the runtime's routes."""
    KeyFolder(tmp_path / "keys").generate()
    migration = DeferredMigration(
        mode="hybrid", key_folder=str(tmp_path / "keys"), metrics_path=None
    )

    async def anything(request: Request) -> Response:
        return JSONResponse({"from": "mount"})

    inner = Starlette(routes=[Route("/{path:path}", anything)])
    app = Starlette(routes=[Mount("/", app=inner)])
    with serve_asgi(app) as url:
        migration.install_starlette(app, issuer=url)
        jwks = httpx.get(url + "/.well-known/jwks.json")
        other = httpx.get(url + "/elsewhere")
    assert jwks.status_code == 200 and "keys" in jwks.json()
    assert other.json() == {"from": "mount"}
