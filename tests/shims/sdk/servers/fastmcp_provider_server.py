"""A small fastmcp 4.x server on fastmcp's ``OAuthProvider``, as `migrate apply` leaves it.

The provider is ``memory_provider``'s store mixed into fastmcp's ``OAuthProvider``, with
fastmcp's ``AccessToken`` as the record class; the edit of this file is ``install_mcp``
right after the server is built (marked ``# migrated``). Started with
``mcp.run(transport="http")`` (``START_MODE`` run) or ``http_app()`` under uvicorn.
Environment: ``PORT``, ``BASE_URL`` (the issuer) and ``memory_provider``'s.
"""

from __future__ import annotations

import os

from fastmcp import FastMCP
from fastmcp.server.auth import AccessToken, OAuthProvider
from fastmcp.server.dependencies import get_access_token
from mcp.server.auth.settings import ClientRegistrationOptions, RevocationOptions
from memory_provider import USER, MemoryProvider, oauth_migration

PORT = int(os.environ.get("PORT", "8000"))
BASE_URL = os.environ.get("BASE_URL", f"http://127.0.0.1:{PORT}")


class FastProvider(MemoryProvider, OAuthProvider):
    record_class = AccessToken

    def __init__(self) -> None:
        OAuthProvider.__init__(
            self,
            base_url=BASE_URL,
            client_registration_options=ClientRegistrationOptions(
                enabled=True, valid_scopes=["mcp"], default_scopes=["mcp"]
            ),
            revocation_options=RevocationOptions(enabled=True),
            required_scopes=["mcp"],
        )
        MemoryProvider.__init__(self)


mcp = FastMCP("fastmcp-whoami", auth=FastProvider())
if os.environ.get("MIGRATION") != "off":  # off: the server as it was before apply
    oauth_migration.install_mcp(mcp)  # migrated


@mcp.tool()
def whoami() -> str:
    """The user and client of the bearer token, and the record class the gate gave."""
    token = get_access_token()
    if token is None:
        return "anonymous"
    user = token.claims.get("sub") or getattr(token, "subject", None) or USER
    return f"{user} {token.client_id} {type(token).__name__}"


if __name__ == "__main__":
    if os.environ.get("START_MODE") == "run":
        mcp.run(transport="http", host="127.0.0.1", port=PORT, show_banner=False)
    else:
        import uvicorn

        uvicorn.run(mcp.http_app(), host="127.0.0.1", port=PORT, log_level="warning")
