"""A small MCP server on the SDK's provider interface, as `migrate apply` leaves it.

Runs under mcp 1.x (``FastMCP``) and 2.x (``MCPServer``), in the venv of the SDK version
under test, over the in-memory provider of ``memory_provider``; the edit of this file is
``install_mcp`` right after the server is built (marked ``# migrated``).

Environment (besides ``memory_provider``'s): ``PORT``, ``BASE_URL`` (the issuer),
``START_MODE`` (app: ``streamable_http_app()`` under uvicorn | run: ``mcp.run(...)``),
``RESOURCE_URL`` (the SDK's ``resource_server_url``, default none), ``PROVIDER`` (subclass
| duck: a subclass of the SDK's provider class, or a plain class with its methods).
"""

from __future__ import annotations

import os

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import OAuthAuthorizationServerProvider
from mcp.server.auth.settings import AuthSettings, ClientRegistrationOptions, RevocationOptions
from memory_provider import USER, MemoryProvider, oauth_migration

try:  # mcp 1.x
    from mcp.server.fastmcp import FastMCP as Server
except ImportError:  # mcp 2.x
    from mcp.server.mcpserver import MCPServer as Server

PORT = int(os.environ.get("PORT", "8000"))
BASE_URL = os.environ.get("BASE_URL", f"http://127.0.0.1:{PORT}")


class SdkProvider(MemoryProvider, OAuthAuthorizationServerProvider):  # type: ignore[type-arg]
    """The store over the SDK's provider protocol class."""


provider = MemoryProvider() if os.environ.get("PROVIDER") == "duck" else SdkProvider()
auth = AuthSettings(
    issuer_url=BASE_URL,  # type: ignore[arg-type]
    resource_server_url=os.environ.get("RESOURCE_URL") or None,  # type: ignore[arg-type]
    client_registration_options=ClientRegistrationOptions(
        enabled=True, valid_scopes=["mcp"], default_scopes=["mcp"]
    ),
    revocation_options=RevocationOptions(enabled=True),
    required_scopes=["mcp"],
)
if Server.__module__.startswith("mcp.server.fastmcp"):
    mcp = Server(
        "sdk-whoami", auth_server_provider=provider, auth=auth, host="127.0.0.1", port=PORT
    )
else:
    mcp = Server("sdk-whoami", auth_server_provider=provider, auth=auth)
if os.environ.get("MIGRATION") != "off":  # off: the server as it was before apply
    oauth_migration.install_mcp(mcp)  # migrated


@mcp.tool()
def whoami() -> str:
    """The user and client of the bearer token, and the record class the gate gave."""
    token = get_access_token()
    if token is None:
        return "anonymous"
    user = getattr(token, "user_id", None) or getattr(token, "subject", None) or USER
    return f"{user} {token.client_id} {type(token).__name__}"


if __name__ == "__main__":
    if os.environ.get("START_MODE") == "run":
        if Server.__module__.startswith("mcp.server.fastmcp"):
            mcp.run(transport="streamable-http")
        else:
            mcp.run(transport="streamable-http", host="127.0.0.1", port=PORT)
    else:
        import uvicorn

        uvicorn.run(mcp.streamable_http_app(), host="127.0.0.1", port=PORT, log_level="warning")
