"""One runtime, one MCP server: what a second server object installed on the same
``oauth_migration`` would do to the first (shims/mcp_sdk.py ``install``).

The migrated package holds one module-level runtime. Two SDK servers in one process
(two ``FastMCP(...)`` objects, each given its own provider and issuer) would each call
``oauth_migration.install_mcp``; the second call reconfigures that runtime for its own
issuer and resource, so the first server's provider then mints tokens naming the second
server and its gate accepts the second server's tokens (an audience confusion, RFC 8707
§2, RFC 9068 §4). The second install is refused instead."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import jwt
import pytest
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings, ClientRegistrationOptions
from mcp.server.mcpserver import MCPServer

from shims.mcp_sdk import NotAnSdkServer, install
from tests.shims.sdk.test_mcp_sdk import ISSUER, StoreProvider, client, deferred, server
from tests.support.inproc_server import serve_asgi

OTHER = "https://other.example.test"


def other_server() -> MCPServer:
    settings = AuthSettings(
        issuer_url=OTHER,  # type: ignore[arg-type]
        client_registration_options=ClientRegistrationOptions(enabled=True, valid_scopes=["mcp"]),
        resource_server_url=None,
    )
    return MCPServer(
        "other",
        auth_server_provider=StoreProvider(),  # type: ignore[arg-type]
        auth=settings,
    )


def test_a_second_server_on_one_runtime_is_refused(key_folder: Path) -> None:
    """Installing on server B after server A would make A mint and accept B's tokens."""
    migration = deferred(key_folder)
    first = server(StoreProvider())
    install(first, migration)
    with pytest.raises(NotAnSdkServer, match="one MCP server per runtime"):
        install(other_server(), migration)
    # The first server's runtime is untouched: its mints still name it.
    token = migration.mint_access_token("ada", "c1", ["mcp"], None)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (claims["iss"], claims["aud"]) == (ISSUER, ISSUER + "/mcp")


def test_the_first_servers_app_keeps_its_own_issuer(key_folder: Path) -> None:
    """Over HTTP: A's protected-resource metadata still names A after B tried to install."""
    migration = deferred(key_folder)
    first = server(StoreProvider())
    install(first, migration)
    app = first.streamable_http_app()
    with pytest.raises(NotAnSdkServer):
        install(other_server(), migration)
    with serve_asgi(app) as base:
        prm = httpx.get(base + "/.well-known/oauth-protected-resource/mcp", timeout=5).json()
    assert prm["authorization_servers"] == [ISSUER]
    assert prm["resource"] == ISSUER + "/mcp"


def test_installing_the_same_server_again_is_allowed(key_folder: Path) -> None:
    """The refusal is for another issuer or resource: a second call on the same server,
    or a factory building the same server again, still installs."""
    migration = deferred(key_folder)
    first = server(StoreProvider())
    install(first, migration)
    install(first, migration)
    rebuilt = server(StoreProvider())
    install(rebuilt, migration)
    rebuilt.streamable_http_app()
    assert migration.runtime.settings.resource == ISSUER + "/mcp"


class ForeignResourceProvider(StoreProvider):
    """A legacy store holding an opaque token the SDK's /token issued for another
    resource (RFC 8707: the client asked for ``resource=<another MCP server>``)."""

    async def load_access_token(self, token: str) -> AccessToken | None:
        self.looked_up.append(token)
        return AccessToken(
            token=token,
            client_id="c1",
            scopes=["mcp"],
            expires_at=int(time.time()) + 3600,
            resource=OTHER + "/mcp",
        )


def test_introspection_names_the_resource_an_opaque_token_was_issued_for(
    key_folder: Path,
) -> None:
    """Over HTTP: hybrid introspection of an opaque token bound to another resource must
    not answer ``aud`` = this server (RFC 7662 §2.2: ``aud`` is the token's audience); a
    resource server trusting the answer would take a foreign token for its own."""
    provider = ForeignResourceProvider([client("c1", "s3cret")])
    migration = deferred(key_folder)
    mcp = server(provider)
    install(mcp, migration)
    with serve_asgi(mcp.streamable_http_app()) as base:
        answer = httpx.post(
            base + "/introspect",
            data={"token": "opaque-foreign"},
            auth=("c1", "s3cret"),
            timeout=5,
        ).json()
    assert provider.looked_up == ["opaque-foreign"]
    assert answer["active"] is True and answer["client_id"] == "c1"
    assert answer["aud"] == OTHER + "/mcp"
