"""shims/mcp_sdk.py in this process: the record builder, the introspection caller check,
what is read from the server object, and apps the version tests do not start (sse_app,
an SDK that serves its own protected-resource metadata). The SDK is the mcp 2.x of the
test requirements; every version users pin is run in test_sdk_servers.py."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import jwt
import pytest
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings, ClientRegistrationOptions
from mcp.server.mcpserver import MCPServer
from mcp.shared.auth import OAuthClientInformationFull

from shims.deferred import DeferredMigration
from shims.mcp_sdk import (
    NotAnSdkServer,
    client_check,
    install,
    protected_paths,
    sdk_record,
    server_facts,
)
from shims.verifier import VerifiedToken
from tests.support.inproc_server import serve_asgi

ISSUER = "https://mcp.example.test"
ROOT = Path(__file__).resolve().parents[3]


class StoreProvider:
    """A duck-typed provider: only what the runtime calls."""

    def __init__(self, clients: list[OAuthClientInformationFull] | None = None) -> None:
        self.clients = {c.client_id: c for c in clients or []}
        self.looked_up: list[str] = []

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        return self.clients.get(client_id)

    async def load_access_token(self, token: str) -> AccessToken | None:
        self.looked_up.append(token)
        return None


def client(client_id: str, secret: str | None, **fields: Any) -> OAuthClientInformationFull:
    return OAuthClientInformationFull(
        client_id=client_id,
        client_secret=secret,
        redirect_uris=["http://127.0.0.1:1/cb"],  # type: ignore[list-item]
        **fields,
    )


def server(provider: Any, **auth: Any) -> MCPServer:
    auth.setdefault("resource_server_url", None)  # required in mcp 2.x, None allowed
    settings = AuthSettings(
        issuer_url=ISSUER,  # type: ignore[arg-type]
        client_registration_options=ClientRegistrationOptions(enabled=True, valid_scopes=["mcp"]),
        **auth,
    )
    return MCPServer("unit", auth_server_provider=provider, auth=settings)  # type: ignore[arg-type]


def deferred(key_folder: Path) -> DeferredMigration:
    return DeferredMigration(
        mode="hybrid", key_folder=str(key_folder), metrics_path=None, environ={}
    )


def verified(aud: Any = ISSUER + "/mcp") -> VerifiedToken:
    claims = {
        "iss": ISSUER, "sub": "ada", "aud": aud, "client_id": "c1", "scope": "mcp read",
        "iat": 1_700_000_000, "exp": 1_700_003_600, "jti": "j1",
    }  # fmt: skip
    return VerifiedToken("tok", claims, "kid", 1_700_003_600.0, "j1", "c1", "ada")


# -- sdk_record ------------------------------------------------------------------------------


def test_sdk_record_fills_every_access_token_field() -> None:
    """The SDK's AccessToken with scopes as a list, expires_at, resource, subject, claims."""
    record = sdk_record(verified(), AccessToken)
    assert isinstance(record, AccessToken)
    assert (record.token, record.client_id, record.scopes) == ("tok", "c1", ["mcp", "read"])
    assert record.expires_at == 1_700_003_600
    assert record.resource == ISSUER + "/mcp"
    assert record.subject == "ada"
    assert record.claims is not None and record.claims["jti"] == "j1"


def test_sdk_record_defaults_to_the_installed_sdks_class() -> None:
    """Without a class, the installed SDK's AccessToken is built."""
    assert type(sdk_record(verified())) is AccessToken


def test_sdk_record_builds_a_subclass_with_its_extra_fields() -> None:
    """A server's own subclass gets its own fields from the caller."""

    class UserAccessToken(AccessToken):
        user_id: str

    record = sdk_record(verified(), UserAccessToken, extra={"user_id": "ada"})
    assert isinstance(record, UserAccessToken) and record.user_id == "ada"


def test_sdk_record_leaves_out_fields_the_class_does_not_declare() -> None:
    """mcp <= 1.27.1's AccessToken has no subject or claims: a class without them is built
    without them rather than refused."""

    @dataclass
    class OldAccessToken:
        token: str
        client_id: str
        scopes: list[str]
        expires_at: int | None = None
        resource: str | None = None

    record = sdk_record(verified(), OldAccessToken)
    assert record == OldAccessToken("tok", "c1", ["mcp", "read"], 1_700_003_600, ISSUER + "/mcp")


def test_sdk_record_picks_this_servers_audience_from_a_list() -> None:
    """mcp >= 1.30 compares resource with resource_server_url: the aud entry we accept."""
    token = verified(aud=["https://other.example", ISSUER + "/mcp"])
    record = sdk_record(token, AccessToken, (ISSUER + "/mcp", ISSUER))
    assert record.resource == ISSUER + "/mcp"


def test_deferred_sdk_record_is_what_the_final_gate_calls(key_folder: Path) -> None:
    """oauth_migration.sdk_record(c, AccessToken, user_id=...) through a real mint and gate."""

    class UserAccessToken(AccessToken):
        user_id: str

    migration = DeferredMigration(
        mode="final", key_folder=str(key_folder), metrics_path=None, environ={}
    )
    install(server(StoreProvider()), migration)
    token = migration.mint_access_token("ada", "c1", ["mcp"], None)
    record = anyio.run(
        lambda: migration.resolve_async(
            token, record=lambda c: migration.sdk_record(c, UserAccessToken, user_id=c.sub)
        )
    )
    assert isinstance(record, UserAccessToken)
    assert (record.user_id, record.scopes, record.resource) == ("ada", ["mcp"], ISSUER + "/mcp")
    assert record.claims is not None and record.claims["iss"] == ISSUER


# -- the introspection caller check -----------------------------------------------------------


def check(provider: StoreProvider, client_id: str, secret: str) -> bool:
    return anyio.run(client_check(provider), client_id, secret)


def test_client_check_accepts_the_registered_secret() -> None:
    """The client's own secret, from the provider's get_client, authenticates it."""
    assert check(StoreProvider([client("c1", "s3cret")]), "c1", "s3cret")


@pytest.mark.parametrize(
    ("registered", "client_id", "secret"),
    [
        (client("c1", "s3cret"), "c1", "wrong"),
        (client("c1", "s3cret"), "c2", "s3cret"),
        (client("c1", None, token_endpoint_auth_method="none"), "c1", ""),
        (client("c1", "s3cret", token_endpoint_auth_method="none"), "c1", "s3cret"),
        (client("c1", "s3cret", client_secret_expires_at=int(time.time()) - 5), "c1", "s3cret"),
    ],
    ids=["wrong-secret", "unknown-client", "public-client", "auth-method-none", "expired"],
)
def test_client_check_refuses(
    registered: OAuthClientInformationFull, client_id: str, secret: str
) -> None:
    """Wrong secret, unknown client, public client, expired secret: all refused."""
    assert not check(StoreProvider([registered]), client_id, secret)


def test_client_secret_expiring_at_zero_never_expires() -> None:
    """RFC 7591 §3.2.1: client_secret_expires_at 0 means the secret does not expire."""
    registered = client("c1", "s3cret", client_secret_expires_at=0)
    assert check(StoreProvider([registered]), "c1", "s3cret")


def test_client_check_takes_a_synchronous_get_client() -> None:
    """A duck-typed provider may answer get_client without awaiting."""

    class SyncProvider:
        def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
            return client("c1", "s3cret") if client_id == "c1" else None

    authenticate = client_check(SyncProvider())
    assert anyio.run(authenticate, "c1", "s3cret")
    assert not anyio.run(authenticate, "c1", "nope")


# -- what is read from the server -------------------------------------------------------------


def test_server_facts_read_issuer_scopes_and_provider() -> None:
    """Issuer as the SDK renders it, the registration scopes, the provider object."""
    provider = StoreProvider()
    facts = server_facts(server(provider))
    assert facts.provider is provider
    assert facts.issuer == ISSUER
    assert facts.scopes == ("mcp",)
    assert facts.resource("/mcp") == ISSUER + "/mcp"


def test_a_server_without_a_provider_is_refused() -> None:
    """No provider means no client registry for introspection: refused, not guessed."""
    with pytest.raises(NotAnSdkServer):
        server_facts(MCPServer("no-auth"))


def test_a_provider_without_the_gate_is_refused() -> None:
    """A provider lacking load_access_token cannot serve hybrid introspection."""

    class Partial:
        async def get_client(self, client_id: str) -> None:
            return None

    with pytest.raises(NotAnSdkServer, match="load_access_token"):
        server_facts(server(Partial()))


def test_installing_twice_wraps_once(key_folder: Path) -> None:
    """A second install_mcp on the same server adds no second set of routes."""
    mcp = server(StoreProvider())
    migration = deferred(key_folder)
    migration.install_mcp(mcp)
    migration.install_mcp(mcp)
    routes = mcp.streamable_http_app().router.routes
    # The runtime's own routes sit in front as one entry (starlette_adapter.RuntimeRoutes).
    flat = [inner for r in routes for inner in getattr(r, "routes", None) or [r]]
    paths = [getattr(r, "path", None) for r in flat]
    assert paths.count("/.well-known/jwks.json") == 1
    assert paths.count("/.well-known/oauth-authorization-server") == 2  # ours, then the SDK's


def test_the_mcp_path_is_read_from_the_app_built(key_folder: Path) -> None:
    """mcp 2.x takes the MCP path as an argument: the resource follows the app's path."""
    mcp = server(StoreProvider())
    migration = deferred(key_folder)
    migration.install_mcp(mcp)
    app = mcp.streamable_http_app(streamable_http_path="/api/mcp")
    assert protected_paths(app) == ["/api/mcp"]
    assert migration.runtime.settings.resource == ISSUER + "/api/mcp"


def test_hybrid_introspection_looks_opaque_tokens_up_through_the_provider(
    key_folder: Path,
) -> None:
    """The gate's lookup for introspection is the provider's own load_access_token."""
    provider = StoreProvider()
    migration = deferred(key_folder)
    migration.install_mcp(server(provider))
    form = {"token": "opaque-1", "client_id": "c1", "client_secret": "s"}
    provider.clients["c1"] = client("c1", "s")
    handle = migration.runtime.introspector.handle_async
    reply = anyio.run(handle, None, form, client_check(provider))
    assert provider.looked_up == ["opaque-1"] and reply.body == {"active": False}


def test_a_gate_without_its_legacy_lookup_does_not_recurse(key_folder: Path) -> None:
    """A hybrid load_access_token that forgot legacy= finds nothing, rather than calling
    itself through the introspection lookup until the stack runs out."""
    migration = deferred(key_folder)

    class Forgetful(StoreProvider):
        async def load_access_token(self, token: str) -> AccessToken | None:
            self.looked_up.append(token)
            record: AccessToken | None = await migration.resolve_async(token)
            return record

    provider = Forgetful()
    migration.install_mcp(server(provider))
    assert anyio.run(provider.load_access_token, "opaque-1") is None
    assert provider.looked_up == ["opaque-1", "opaque-1"]


# -- apps over real HTTP ------------------------------------------------------------------------


def test_sse_app_serves_the_runtime_and_fixes_both_challenges(key_folder: Path) -> None:
    """sse_app(): JWKS and metadata override served; /sse and /messages/ 401s both name
    the protected-resource metadata."""
    mcp = server(StoreProvider())
    deferred(key_folder).install_mcp(mcp)
    with serve_asgi(mcp.sse_app()) as base, httpx.Client(timeout=10) as http:
        assert http.get(base + "/.well-known/jwks.json").status_code == 200
        metadata = http.get(base + "/.well-known/oauth-authorization-server").json()
        assert metadata["issuer"] == ISSUER
        assert metadata["jwks_uri"] == ISSUER + "/.well-known/jwks.json"
        for method, path in (("GET", "/sse"), ("POST", "/messages/")):
            response = http.request(method, base + path)
            assert response.status_code == 401
            hint = 'resource_metadata="' + ISSUER + '/.well-known/oauth-protected-resource/sse"'
            assert hint in response.headers["www-authenticate"]


def test_an_sdk_that_serves_its_own_prm_keeps_it(key_folder: Path) -> None:
    """With resource_server_url set, the SDK's RFC 9728 document and its challenge stand;
    the runtime's resource (the JWT aud) is that URL."""
    mcp = server(StoreProvider(), resource_server_url=ISSUER + "/mcp", validate_token_resource=True)
    migration = deferred(key_folder)
    migration.install_mcp(mcp)
    app = mcp.streamable_http_app()
    paths = [getattr(r, "path", None) for r in app.router.routes]
    assert paths.count("/.well-known/oauth-protected-resource/mcp") == 1
    with serve_asgi(app) as base, httpx.Client(timeout=10) as http:
        prm = http.get(base + "/.well-known/oauth-protected-resource/mcp").json()
        challenge = http.post(base + "/mcp").headers["www-authenticate"]
    assert prm["resource"] == ISSUER + "/mcp"
    assert challenge.count("resource_metadata=") == 1
    token = migration.mint_access_token("ada", "c1", ["mcp"], ISSUER + "/mcp")
    assert jwt.decode(token, options={"verify_signature": False})["aud"] == ISSUER + "/mcp"


def test_the_runtime_imports_without_mcp_or_starlette() -> None:
    """The copied package must import on servers that use neither SDK."""
    code = (
        "import sys\n"
        "for name in ('mcp', 'fastmcp', 'starlette'): sys.modules[name] = None\n"
        "import shims, shims.mcp_sdk, shims.deferred\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.stdout.strip() == "ok", done.stderr


@pytest.mark.parametrize(
    ("resource", "aud"),
    [(None, ISSUER + "/mcp"), (ISSUER + "/mcp/", ISSUER + "/mcp"), (ISSUER, ISSUER)],
    ids=["none", "trailing-slash", "base-url"],
)
def test_mint_takes_the_sdks_scope_list_and_resource(
    key_folder: Path, resource: str | None, aud: str
) -> None:
    """As the exchanges call it: scope as the SDK's list, resource None or a string."""
    migration = deferred(key_folder)
    migration.install_mcp(server(StoreProvider()))
    token = migration.mint_access_token(
        subject="ada", client_id="c1", scope=["mcp", "read"], resource=resource
    )
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (claims["scope"], claims["aud"], claims["iss"]) == ("mcp read", aud, ISSUER)
