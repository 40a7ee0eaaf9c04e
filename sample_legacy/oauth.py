"""Our own OAuth 2.1 authorization server.

Endpoints: RFC 8414 metadata, RFC 7591 dynamic client registration, ``/authorize``
(authorization code with PKCE S256, approved at once for the demo user), ``/token``
(``authorization_code`` and ``refresh_token``) and RFC 7009 ``/revoke``.

Access tokens and refresh tokens are opaque random strings kept in the token store
(``request.app.state.store``); the bearer middleware in ``auth.py`` looks them up there.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from typing import Any
from urllib.parse import unquote_plus, urlencode, urlsplit

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from sample_legacy.store import TokenRecord, TokenStore

ACCESS_TOKEN_TTL = 3600  # seconds
REFRESH_TOKEN_TTL = 30 * 24 * 3600
AUTHORIZATION_CODE_TTL = 300

SCOPES_SUPPORTED = ["mcp:tools", "profile"]
GRANT_TYPES = ["authorization_code", "refresh_token"]
TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

# There is no login page: every authorization is granted to this user.
DEMO_USER = os.environ.get("DEMO_USER", "alice")

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

# Authorization codes waiting to be exchanged, by code. They live for a few minutes only,
# so they are never written to the token store.
_authorization_codes: dict[str, dict[str, Any]] = {}


def authorization_server_metadata(base_url: str) -> dict[str, Any]:
    return {
        "issuer": base_url,
        "authorization_endpoint": f"{base_url}/authorize",
        "token_endpoint": f"{base_url}/token",
        "registration_endpoint": f"{base_url}/register",
        "revocation_endpoint": f"{base_url}/revoke",
        "scopes_supported": SCOPES_SUPPORTED,
        "response_types_supported": ["code"],
        "grant_types_supported": GRANT_TYPES,
        "token_endpoint_auth_methods_supported": TOKEN_ENDPOINT_AUTH_METHODS,
        "code_challenge_methods_supported": ["S256"],
    }


def oauth_error(
    error: str, description: str, status_code: int = 400, headers: dict[str, str] | None = None
) -> JSONResponse:
    all_headers = dict(NO_STORE)
    if headers:
        all_headers.update(headers)
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status_code,
        headers=all_headers,
    )


def _store(request: Request) -> TokenStore:
    store: TokenStore = request.app.state.store
    return store


async def metadata(request: Request) -> Response:
    return JSONResponse(authorization_server_metadata(request.app.state.base_url))


def _valid_redirect_uri(uri: Any) -> bool:
    if not isinstance(uri, str):
        return False
    parts = urlsplit(uri)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not parts.fragment


async def register(request: Request) -> Response:
    try:
        body = await request.json()
    except ValueError:
        return oauth_error("invalid_client_metadata", "The request body must be JSON.")
    if not isinstance(body, dict):
        return oauth_error("invalid_client_metadata", "The request body must be a JSON object.")

    redirect_uris = body.get("redirect_uris")
    if not isinstance(redirect_uris, list) or not redirect_uris:
        return oauth_error("invalid_redirect_uri", "redirect_uris is required.")
    for uri in redirect_uris:
        if not _valid_redirect_uri(uri):
            return oauth_error("invalid_redirect_uri", f"Not an absolute http(s) URL: {uri!r}")

    auth_method = body.get("token_endpoint_auth_method") or "client_secret_basic"
    if auth_method not in TOKEN_ENDPOINT_AUTH_METHODS:
        return oauth_error(
            "invalid_client_metadata", f"Unsupported token_endpoint_auth_method: {auth_method}"
        )
    grant_types = body.get("grant_types") or GRANT_TYPES
    if not isinstance(grant_types, list) or any(g not in GRANT_TYPES for g in grant_types):
        return oauth_error("invalid_client_metadata", f"Supported grant_types: {GRANT_TYPES}")
    response_types = body.get("response_types") or ["code"]
    if response_types != ["code"]:
        return oauth_error("invalid_client_metadata", 'Only response_types ["code"] is supported.')
    scope = body.get("scope")
    if scope is not None and (
        not isinstance(scope, str) or not set(scope.split()) <= set(SCOPES_SUPPORTED)
    ):
        return oauth_error("invalid_client_metadata", f"Supported scopes: {SCOPES_SUPPORTED}")

    client: dict[str, Any] = {
        "client_id": secrets.token_urlsafe(16),
        "client_id_issued_at": int(time.time()),
        "redirect_uris": redirect_uris,
        "token_endpoint_auth_method": auth_method,
        "grant_types": grant_types,
        "response_types": response_types,
    }
    if auth_method != "none":
        client["client_secret"] = secrets.token_urlsafe(32)
        client["client_secret_expires_at"] = 0
    if scope is not None:
        client["scope"] = scope
    if isinstance(body.get("client_name"), str):
        client["client_name"] = body["client_name"]

    _store(request).save_client(client)
    return JSONResponse(client, status_code=201, headers=NO_STORE)


def _redirect_with(redirect_uri: str, params: dict[str, str]) -> RedirectResponse:
    separator = "&" if urlsplit(redirect_uri).query else "?"
    return RedirectResponse(redirect_uri + separator + urlencode(params), status_code=302)


async def authorize(request: Request) -> Response:
    params = request.query_params
    client = _store(request).get_client(params.get("client_id", ""))
    if client is None:
        return oauth_error("invalid_client", "Unknown client_id.")

    # Never redirect to a URI the client did not register: answer here instead.
    redirect_uri = params.get("redirect_uri")
    if redirect_uri is None:
        if len(client["redirect_uris"]) != 1:
            return oauth_error("invalid_request", "redirect_uri is required.")
        redirect_uri = client["redirect_uris"][0]
    elif redirect_uri not in client["redirect_uris"]:
        return oauth_error("invalid_request", "redirect_uri is not registered for this client.")

    def error_redirect(error: str, description: str) -> RedirectResponse:
        answer = {"error": error, "error_description": description}
        if "state" in params:
            answer["state"] = params["state"]
        return _redirect_with(redirect_uri, answer)

    if params.get("response_type") != "code":
        return error_redirect("unsupported_response_type", "Only response_type=code is supported.")
    code_challenge = params.get("code_challenge")
    if not code_challenge:
        return error_redirect("invalid_request", "PKCE is required: send a code_challenge.")
    if params.get("code_challenge_method") != "S256":
        return error_redirect("invalid_request", "code_challenge_method must be S256.")

    scope = params.get("scope")
    if not scope:
        scope = " ".join(SCOPES_SUPPORTED)
    elif not set(scope.split()) <= set(SCOPES_SUPPORTED):
        return error_redirect("invalid_scope", f"Supported scopes: {' '.join(SCOPES_SUPPORTED)}")

    # No consent screen: the demo user approves everything at once.
    code = secrets.token_urlsafe(32)
    _authorization_codes[code] = {
        "client_id": client["client_id"],
        "redirect_uri": redirect_uri,
        "redirect_uri_sent": "redirect_uri" in params,
        "code_challenge": code_challenge,
        "scope": scope,
        "resource": params.get("resource"),
        "user_id": DEMO_USER,
        "expires_at": time.time() + AUTHORIZATION_CODE_TTL,
    }
    answer = {"code": code}
    if "state" in params:
        answer["state"] = params["state"]
    return _redirect_with(redirect_uri, answer)


def authenticate_client(request: Request, form: FormData) -> dict[str, Any] | None:
    """The registered client making this request, or None if it failed to authenticate."""
    client_id = form.get("client_id")
    client_secret = form.get("client_secret")
    authorization = request.headers.get("Authorization", "")
    if authorization.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
        except ValueError:
            return None
        basic_id, _, basic_secret = decoded.partition(":")
        basic_id, basic_secret = unquote_plus(basic_id), unquote_plus(basic_secret)
        if isinstance(client_id, str) and client_id != basic_id:
            return None
        client_id, client_secret = basic_id, basic_secret

    if not isinstance(client_id, str) or not client_id:
        return None
    client = _store(request).get_client(client_id)
    if client is None:
        return None
    if client["token_endpoint_auth_method"] == "none":
        return client  # public client: PKCE proves it is the one that asked for the code
    if not isinstance(client_secret, str):
        return None
    if not hmac.compare_digest(client_secret.encode(), client["client_secret"].encode()):
        return None
    return client


def _invalid_client() -> JSONResponse:
    return oauth_error(
        "invalid_client",
        "Client authentication failed.",
        status_code=401,
        headers={"WWW-Authenticate": 'Basic realm="oauth"'},
    )


def _pkce_matches(code_verifier: str, code_challenge: str) -> bool:
    digest = hashlib.sha256(code_verifier.encode()).digest()
    expected = base64.urlsafe_b64encode(digest).rstrip(b"=")
    return hmac.compare_digest(expected, code_challenge.encode())


def _issue_tokens(
    store: TokenStore, client_id: str, user_id: str, scope: str, resource: str | None
) -> dict[str, Any]:
    now = int(time.time())
    access_token = secrets.token_urlsafe(32)
    refresh_token = secrets.token_urlsafe(48)
    store.save_token(
        TokenRecord(
            token=access_token,
            kind="access",
            client_id=client_id,
            user_id=user_id,
            scope=scope,
            expires_at=now + ACCESS_TOKEN_TTL,
            resource=resource,
        )
    )
    store.save_token(
        TokenRecord(
            token=refresh_token,
            kind="refresh",
            client_id=client_id,
            user_id=user_id,
            scope=scope,
            expires_at=now + REFRESH_TOKEN_TTL,
            resource=resource,
            access_token=access_token,
        )
    )
    return {
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": ACCESS_TOKEN_TTL,
        "refresh_token": refresh_token,
        "scope": scope,
    }


async def token(request: Request) -> Response:
    form = await request.form()
    client = authenticate_client(request, form)
    if client is None:
        return _invalid_client()

    grant_type = form.get("grant_type")
    if not grant_type:
        return oauth_error("invalid_request", "grant_type is required.")
    if grant_type not in GRANT_TYPES:
        return oauth_error("unsupported_grant_type", f"Unsupported grant_type: {grant_type}")
    if grant_type not in client["grant_types"]:
        return oauth_error("unauthorized_client", f"This client may not use {grant_type}.")

    if grant_type == "authorization_code":
        return _authorization_code_grant(request, form, client)
    return _refresh_token_grant(request, form, client)


def _authorization_code_grant(request: Request, form: FormData, client: dict[str, Any]) -> Response:
    code = form.get("code")
    if not isinstance(code, str) or not code:
        return oauth_error("invalid_request", "code is required.")
    # pop: a code can be tried once, whatever the outcome
    pending = _authorization_codes.pop(code, None)
    if pending is None or pending["expires_at"] < time.time():
        return oauth_error("invalid_grant", "The authorization code is invalid or has expired.")
    if pending["client_id"] != client["client_id"]:
        return oauth_error("invalid_grant", "The authorization code was issued to another client.")

    # RFC 6749 4.1.3: required here when it was part of the authorization request
    redirect_uri = form.get("redirect_uri")
    sent_before = pending["redirect_uri_sent"]
    if (sent_before or redirect_uri is not None) and redirect_uri != pending["redirect_uri"]:
        return oauth_error("invalid_grant", "redirect_uri differs from the authorization request.")

    code_verifier = form.get("code_verifier")
    if not isinstance(code_verifier, str) or not code_verifier:
        return oauth_error("invalid_grant", "code_verifier is required.")
    if not _pkce_matches(code_verifier, pending["code_challenge"]):
        return oauth_error("invalid_grant", "PKCE verification failed.")

    resource = pending["resource"]
    requested_resource = form.get("resource")
    if isinstance(requested_resource, str) and requested_resource:
        if resource is not None and requested_resource != resource:
            return oauth_error("invalid_target", "resource differs from the authorization request.")
        resource = requested_resource

    answer = _issue_tokens(
        _store(request), client["client_id"], pending["user_id"], pending["scope"], resource
    )
    return JSONResponse(answer, headers=NO_STORE)


def _refresh_token_grant(request: Request, form: FormData, client: dict[str, Any]) -> Response:
    store = _store(request)
    refresh_token = form.get("refresh_token")
    if not isinstance(refresh_token, str) or not refresh_token:
        return oauth_error("invalid_request", "refresh_token is required.")
    old = store.get_refresh_token(refresh_token)
    if old is None or old.client_id != client["client_id"]:
        return oauth_error("invalid_grant", "The refresh token is invalid or has expired.")

    scope = old.scope
    requested_scope = form.get("scope")
    if isinstance(requested_scope, str) and requested_scope:
        if not set(requested_scope.split()) <= set(old.scope.split()):
            return oauth_error("invalid_scope", "The requested scope exceeds the original grant.")
        scope = requested_scope

    # Rotation: the old refresh token and the access token issued with it stop working.
    store.delete_token(refresh_token)
    if old.access_token:
        store.delete_token(old.access_token)

    answer = _issue_tokens(store, old.client_id, old.user_id, scope, old.resource)
    return JSONResponse(answer, headers=NO_STORE)


async def revoke(request: Request) -> Response:
    form = await request.form()
    client = authenticate_client(request, form)
    if client is None:
        return _invalid_client()
    token_value = form.get("token")
    if not isinstance(token_value, str) or not token_value:
        return oauth_error("invalid_request", "token is required.")

    store = _store(request)
    record = store.get_token(token_value)
    # RFC 7009: an unknown token, or one of another client, is not an error.
    if record is not None and record.client_id == client["client_id"]:
        store.delete_token(record.token)
        if record.kind == "refresh" and record.access_token:
            store.delete_token(record.access_token)
    return Response(status_code=200, headers=NO_STORE)
