"""The Starlette application: OAuth routes, the bearer gate and the MCP endpoint at /mcp."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Route

from sample_legacy import oauth
from sample_legacy.auth import BearerTokenMiddleware
from sample_legacy.store import TokenStore, get_store
from sample_legacy.tools import mcp


def _transport_security(base_url: str) -> TransportSecuritySettings:
    # The SDK refuses Host and Origin headers it does not know (DNS rebinding protection):
    # allow loopback on any port, plus the public host name of BASE_URL.
    public = urlsplit(base_url)
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*", public.netloc],
        allowed_origins=[
            "http://127.0.0.1:*",
            "http://localhost:*",
            "http://[::1]:*",
            f"{public.scheme}://{public.netloc}",
        ],
    )


def create_app(base_url: str, store: TokenStore | None = None) -> Starlette:
    if store is None:
        store = get_store()

    # The SDK's app serves streamable HTTP at exactly /mcp; it is mounted at the root,
    # after our own routes.
    mcp_app = mcp.streamable_http_app(
        streamable_http_path="/mcp",
        transport_security=_transport_security(base_url),
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # A mounted app's lifespan does not run by itself: start the MCP session manager here.
        async with mcp.session_manager.run():
            yield

    app = Starlette(
        routes=[
            Route("/.well-known/oauth-authorization-server", oauth.metadata, methods=["GET"]),
            Route("/register", oauth.register, methods=["POST"]),
            Route("/authorize", oauth.authorize, methods=["GET"]),
            Route("/token", oauth.token, methods=["POST"]),
            Route("/revoke", oauth.revoke, methods=["POST"]),
            Mount("/", app=mcp_app),
        ],
        middleware=[Middleware(BearerTokenMiddleware, store=store, protected_path="/mcp")],
        lifespan=lifespan,
    )
    app.state.base_url = base_url
    app.state.store = store
    return app
