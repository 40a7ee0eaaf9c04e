"""Servers whose authorization server is the MCP SDK's provider interface, or fastmcp's.

Such a server has no app object of its own to install on: the SDK builds a Starlette app
each time ``streamable_http_app()``, ``sse_app()`` (mcp 1.x ``FastMCP``, mcp 2.x
``MCPServer``) or ``http_app()`` (fastmcp) is called, ``run(transport=...)`` included. So
:func:`install` wraps those methods on the server object, once, right after it is
constructed, and every app they build then serves:

- ``/.well-known/jwks.json`` and RFC 7662 ``/introspect``; callers authenticate through
  the provider's own ``get_client`` (the client's secret, compared in constant time, as
  the SDK's ``/token`` does); public clients and expired secrets are refused;
- the RFC 8414 document, served ahead of the SDK's route: the SDK's own answer (so the
  ``issuer`` stays byte for byte, trailing slash and all) plus ``jwks_uri``,
  ``introspection_endpoint`` with its auth methods, and ``S256``. The SDK's metadata
  model drops unknown fields, so they cannot be added where it builds the document;
- RFC 9728 metadata at the path-inserted URL of the MCP endpoint and at the root, where
  the app serves none (``resource_server_url=None``);
- ``resource_metadata`` in every Bearer 401 challenge of the protected endpoints.

Issuer, MCP path and scopes come from the server object (``settings.auth`` of the SDK,
the ``auth`` provider of fastmcp); the MCP path is read again from each app built, as
mcp 2.x and fastmcp take it as an argument there. In the hybrid phase introspection
looks opaque tokens up through the provider's ``load_access_token``, the server's gate.

:func:`sdk_record` builds the SDK's ``AccessToken`` from a verified JWT for the final
phase, with every field the bearer middleware of the SDK version installed reads.

Nothing here imports ``mcp`` or ``fastmcp`` at module level: the runtime must import
on servers that use neither.
"""

from __future__ import annotations

import dataclasses
import functools
import hmac
import inspect
import json
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .discovery import augment_metadata
from .verifier import VerifiedToken

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import BaseRoute

    from .deferred import DeferredMigration
    from .runtime import OAuthMigration

log = logging.getLogger("oauth_migration.mcp_sdk")

APP_BUILDERS = ("streamable_http_app", "sse_app", "http_app")
AS_METADATA_PATHS = ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration")
_INSTALLED = "_oauth_migration_installed"
# The server object a runtime serves (a weak reference where the class allows one).
_SERVED = "_oauth_migration_server"
# Headers of the SDK's metadata answer that the rebuilt body replaces.
_BODY_HEADERS = frozenset({b"content-length", b"content-type"})


class NotAnSdkServer(TypeError):
    """The object passed to ``install_mcp`` has no SDK provider to read settings from."""


@dataclass(frozen=True)
class ServerFacts:
    """What the server object says about its authorization server."""

    provider: Any
    issuer: str
    scopes: tuple[str, ...]
    resource_url: str | None = None  # the SDK's resource_server_url, used as it is
    resource_base: str | None = None  # fastmcp's resource base, the MCP path appended

    def resource(self, mcp_path: str) -> str:
        if self.resource_url:
            return self.resource_url.rstrip("/")
        base = self.resource_base or self.issuer
        return base.rstrip("/") + mcp_path


def server_facts(server: Any) -> ServerFacts:
    """Issuer, provider and scopes of an mcp ``FastMCP``/``MCPServer`` or a fastmcp server.

    Refuses (NotAnSdkServer) a server with no authorization server provider: there is no
    client registry to authenticate introspection callers with.
    """
    auth = getattr(getattr(server, "settings", None), "auth", None)
    if auth is not None and getattr(auth, "issuer_url", None) is not None:
        provider = getattr(server, "_auth_server_provider", None)
        scopes = auth.required_scopes or _valid_scopes(auth)
        resource_url = auth.resource_server_url
        facts = ServerFacts(
            provider, str(auth.issuer_url), _strings(scopes), resource_url=_text(resource_url)
        )
    else:
        provider = getattr(server, "auth", None)
        issuer = getattr(provider, "issuer_url", None)
        if issuer is None:
            raise NotAnSdkServer(f"{type(server).__name__} has no OAuth provider to install on")
        base = getattr(provider, "resource_base_url", None) or getattr(provider, "base_url", None)
        scopes = getattr(provider, "required_scopes", None) or _valid_scopes(provider)
        facts = ServerFacts(provider, str(issuer), _strings(scopes), resource_base=_text(base))
    missing = [m for m in ("get_client", "load_access_token") if not hasattr(provider, m)]
    if missing:
        raise NotAnSdkServer(f"the server's OAuth provider lacks {', '.join(missing)}")
    return facts


def _valid_scopes(holder: Any) -> Any:
    options = getattr(holder, "client_registration_options", None)
    return getattr(options, "valid_scopes", None)


def _strings(values: Iterable[Any] | None) -> tuple[str, ...]:
    return tuple(str(v) for v in values or ())


def _text(value: Any) -> str | None:
    return str(value) if value is not None else None


# -- installing on the server object ------------------------------------------------------


def install(server: Any, owner: DeferredMigration, issuer: str | None = None) -> OAuthMigration:
    """Configure ``owner`` from ``server`` and make every app the server builds serve the
    runtime. Installing twice on one server is a no-op.

    Refuses (NotAnSdkServer) a second server object for another issuer or resource on the
    same ``owner``: the runtime holds one issuer and resource, and reconfiguring it for
    the second server would make the first mint tokens naming the second and accept the
    second's tokens."""
    facts = server_facts(server)
    issuer = issuer or facts.issuer
    path = getattr(getattr(server, "settings", None), "streamable_http_path", None)
    mcp_path = "/" + path.strip("/") if isinstance(path, str) and path else owner.mcp_path
    _claim(owner, server, (issuer, facts.resource(mcp_path)))
    if not owner.scopes:
        owner.scopes = facts.scopes
    owner.mcp_path = mcp_path
    runtime = _configure(owner, facts, issuer)
    if getattr(server, _INSTALLED, False):
        return runtime
    for name in APP_BUILDERS:
        builder = getattr(server, name, None)
        if callable(builder):
            setattr(server, name, _wrapped(builder, owner, facts, issuer))
    setattr(server, _INSTALLED, True)
    return runtime


def _claim(owner: DeferredMigration, server: Any, served: tuple[str, str]) -> None:
    """Refuse another server object with another issuer or resource; a factory building
    the same server again (same issuer and resource) takes the runtime over."""
    held = getattr(owner, _SERVED, None)
    other, other_served = (held[0](), held[1]) if held is not None else (None, served)
    if other is not None and other is not server and other_served != served:
        raise NotAnSdkServer(
            f"oauth_migration already serves the MCP server for {other_served[0]} "
            f"(resource {other_served[1]}): one MCP server per runtime"
        )
    try:
        ref: Callable[[], Any] = weakref.ref(server)
    except TypeError:  # a class without __weakref__: hold the server itself
        ref = functools.partial(lambda held_server: held_server, server)
    setattr(owner, _SERVED, (ref, served))


def _configure(owner: DeferredMigration, facts: ServerFacts, issuer: str) -> OAuthMigration:
    runtime = owner.configure(issuer, facts.resource(owner.mcp_path))
    if runtime.settings.mode == "hybrid":
        # Introspection of an opaque token asks the server's own gate.
        runtime.gate.legacy_lookup = provider_lookup(facts.provider)
    return runtime


_IN_PROVIDER_LOOKUP: ContextVar[bool] = ContextVar("oauth_migration_provider_lookup", default=False)


def provider_lookup(provider: Any) -> Callable[[str], Awaitable[Any]]:
    """``provider.load_access_token`` as the gate's lookup for introspection. A gate that
    calls ``resolve_async(token)`` without its ``legacy`` lookup would come back here: that
    second call finds nothing instead of recursing."""

    async def lookup(token: str) -> Any:
        if _IN_PROVIDER_LOOKUP.get():
            return None
        entered = _IN_PROVIDER_LOOKUP.set(True)
        try:
            return await provider.load_access_token(token)
        finally:
            _IN_PROVIDER_LOOKUP.reset(entered)

    return lookup


def _wrapped(
    builder: Callable[..., Any], owner: DeferredMigration, facts: ServerFacts, issuer: str
) -> Callable[..., Any]:
    @functools.wraps(builder)
    def build(*args: Any, **kwargs: Any) -> Any:
        app = builder(*args, **kwargs)
        if not getattr(app.state, _INSTALLED, False):
            install_on_app(app, owner, facts, issuer)
            setattr(app.state, _INSTALLED, True)
        return app

    return build


def install_on_app(app: Any, owner: DeferredMigration, facts: ServerFacts, issuer: str) -> None:
    """The runtime's routes, the metadata override and the challenge fix on one SDK app."""
    from .starlette_adapter import ChallengeFix, add_missing_routes, starlette_routes

    protected = protected_paths(app)
    if protected and protected[0] != owner.mcp_path:
        owner.mcp_path = protected[0]
    runtime = _configure(owner, facts, issuer)
    app.router.routes[0:0] = metadata_overrides(app, runtime)
    add_missing_routes(app, starlette_routes(runtime, client_check(facts.provider)))
    for prefix in protected or [owner.mcp_path]:
        app.add_middleware(
            ChallengeFix, resource_metadata=runtime.resource_metadata_url, prefix=prefix
        )


def protected_paths(app: Any) -> list[str]:
    """Paths of the routes the SDK wraps in its ``RequireAuthMiddleware`` (matched by what
    it holds, ``required_scopes``, not by class), MCP endpoint first."""
    paths: list[str] = []
    for route in app.router.routes:
        guard = getattr(route, "endpoint", None) or getattr(route, "app", None)
        path = getattr(route, "path", None)
        if isinstance(path, str) and hasattr(guard, "required_scopes"):
            paths.append("/" + path.strip("/") if path.strip("/") else "/")
    return paths


# -- the RFC 8414 document ------------------------------------------------------------------


def metadata_overrides(app: Any, runtime: OAuthMigration) -> list[BaseRoute]:
    """A GET route in front of each SDK metadata route, answering the SDK's document with
    the JWT members added; other methods (CORS preflight) still reach the SDK's route."""
    from starlette.routing import Route

    overrides: list[BaseRoute] = []
    for route in list(app.router.routes):
        path = getattr(route, "path", None)
        if isinstance(path, str) and path.startswith(AS_METADATA_PATHS):
            overrides.append(Route(path, _metadata_endpoint(route, runtime), methods=["GET"]))
    return overrides


def _metadata_endpoint(sdk_route: Any, runtime: OAuthMigration) -> Callable[[Request], Any]:
    from starlette.responses import JSONResponse, Response

    from .starlette_adapter import asgi_call

    async def endpoint(request: Request) -> Response:
        status, headers, body = await asgi_call(sdk_route.handle, dict(request.scope))
        kept = {
            k.decode("latin-1"): v.decode("latin-1")
            for k, v in headers
            if k.lower() not in _BODY_HEADERS
        }
        document = _json_object(body) if status == 200 else None
        if document is None or not isinstance(document.get("issuer"), str):
            return Response(body, status, headers=kept, media_type="application/json")
        return JSONResponse(augment_metadata(document, _routes_base(document)), headers=kept)

    return endpoint


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _routes_base(document: dict[str, Any]) -> str:
    """Where this app's routes are: beside the SDK's ``/token`` (fastmcp mounts them on
    ``base_url``, which may differ from the issuer), else the issuer."""
    token_endpoint = document.get("token_endpoint")
    if isinstance(token_endpoint, str) and token_endpoint.endswith("/token"):
        return token_endpoint[: -len("/token")]
    return str(document["issuer"])


# -- introspection callers ----------------------------------------------------------------


def client_check(provider: Any) -> Callable[[str, str], Awaitable[bool]]:
    """Authenticates an introspection caller through ``provider.get_client``.

    Refused: unknown clients, public clients (``token_endpoint_auth_method`` ``none`` or no
    stored secret), secrets past ``client_secret_expires_at`` (RFC 7591 §3.2.1: 0 means
    never), and a wrong secret. The comparison runs even for an unknown client, so timing
    does not say which client ids exist.
    """

    async def authenticate(client_id: str, secret: str) -> bool:
        client = provider.get_client(client_id)
        if inspect.isawaitable(client):
            client = await client
        expected = getattr(client, "client_secret", None)
        stored = expected if isinstance(expected, str) and expected else None
        matches = hmac.compare_digest(
            (stored or "\0unknown").encode("utf-8"), secret.encode("utf-8")
        )
        if client is None or stored is None or not matches:
            return False
        if getattr(client, "token_endpoint_auth_method", None) == "none":
            return False
        expires = getattr(client, "client_secret_expires_at", None)
        return not (isinstance(expires, int | float) and 0 < expires < time.time())

    return authenticate


# -- the final phase's record ----------------------------------------------------------------


def sdk_record(
    verified: VerifiedToken,
    cls: Any = None,
    audiences: Iterable[str] = (),
    extra: dict[str, Any] | None = None,
) -> Any:
    """``cls`` (default: the installed SDK's ``AccessToken``) built from a verified JWT.

    Fields: ``token``, ``client_id``, ``scopes`` (a list), ``expires_at`` (int), ``resource``
    (the ``aud`` entry this server accepts: mcp >= 1.30 and 2.x compare it with
    ``resource_server_url`` when ``validate_token_resource`` is on), ``subject`` and
    ``claims`` (read by the bearer middleware from mcp 1.27.2 on, and by fastmcp's
    ``get_access_token``), plus ``extra`` (a subclass's own fields, such as ``user_id``).
    A field the class does not declare is left out (mcp <= 1.27.1 has no ``claims``),
    except the ``extra`` ones, which the caller named.
    """
    if cls is None:
        from mcp.server.auth.provider import AccessToken

        cls = AccessToken
    values: dict[str, Any] = {
        "token": verified.token,
        "client_id": verified.client_id,
        "scopes": verified.scopes,
        "expires_at": int(verified.exp),
        "resource": _resource(verified, tuple(audiences)),
        "subject": verified.subject,
        "claims": dict(verified.claims),
    }
    declared = _declared_fields(cls)
    if declared is not None:
        values = {k: v for k, v in values.items() if k in declared}
    values.update(extra or {})
    return cls(**values)


def _resource(verified: VerifiedToken, audiences: tuple[str, ...]) -> str | None:
    aud = verified.claims.get("aud")
    listed = [aud] if isinstance(aud, str) else [a for a in aud or () if isinstance(a, str)]
    ours = [a for a in listed if a.rstrip("/") in audiences]
    return (ours or listed)[0] if listed else None


def _declared_fields(cls: Any) -> set[str] | None:
    """The keyword fields ``cls`` takes, or None when it takes any (``**kwargs``)."""
    model_fields = getattr(cls, "model_fields", None)  # pydantic v2 models
    if isinstance(model_fields, dict):
        return set(model_fields)
    if dataclasses.is_dataclass(cls):
        return {f.name for f in dataclasses.fields(cls)}
    try:
        parameters = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    return {p.name for p in parameters}
