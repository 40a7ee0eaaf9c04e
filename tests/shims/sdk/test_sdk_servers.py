"""Migrated servers on the MCP SDK's provider, on every SDK version users pin, over HTTP.

For each version in ``SDK_VERSIONS`` one hybrid server (``streamable_http_app()`` /
``http_app()`` under uvicorn) and one final server (``mcp.run(...)``, no app object in
the server's code) run in that version's venv on 127.0.0.1, both installed with
``install_mcp`` only. The tests speak plain HTTP to them, and the official SDK client
(mcp 2.x, ``OAuthClientProvider``) authorizes itself against the hybrid server of each.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from shims.keys import KeyFolder
from tests.support.oauth_flow import OAuthFlow, RegisteredClient, send_initialize, whoami_with
from tests.support.sdk_client import connect_with_oauth
from tests.support.server_process import ServerProcess

from .support import SDK_VERSIONS, SdkVersion, migrated_server, plain_metadata, runtime_path

LEGACY_CLIENT = "legacy-client"
LEGACY_SECRET = secrets.token_urlsafe(24)
LEGACY_TOKEN = "legacy-opaque-" + secrets.token_urlsafe(24)
AS_METADATA = "/.well-known/oauth-authorization-server"
PRM_ROOT = "/.well-known/oauth-protected-resource"


@dataclass
class Deployment:
    version: SdkVersion
    hybrid: ServerProcess
    final: ServerProcess
    runtime: Path
    keys: Path
    http: httpx.Client

    def flow(self, server: ServerProcess) -> OAuthFlow:
        return OAuthFlow(server.base_url, self.http)

    def grant(self, server: ServerProcess) -> tuple[RegisteredClient, str]:
        client, tokens = self.flow(server).obtain_tokens(
            self.flow(server).register_client(auth_method="client_secret_post")
        )
        return client, tokens.access_token


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sdk-keys") / "keys"
    KeyFolder(folder).generate()
    return folder


@pytest.fixture(scope="module", params=SDK_VERSIONS, ids=lambda v: v.label, name="d")
def deployment(
    request: pytest.FixtureRequest, keys: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    version: SdkVersion = request.param
    tmp = tmp_path_factory.mktemp(version.label)
    runtime = runtime_path(tmp / "runtime")
    legacy = {
        "LEGACY_TOKENS": json.dumps({LEGACY_TOKEN: LEGACY_CLIENT}),
        "LEGACY_CLIENTS": json.dumps({LEGACY_CLIENT: LEGACY_SECRET}),
    }
    record = "sdk" if version.fastmcp else "subclass"
    provider = "duck" if version.label == "mcp-2.3.0" else "subclass"
    hybrid = migrated_server(
        version, tmp, runtime, keys, phase="hybrid",
        extra={**legacy, "START_MODE": "app", "PROVIDER": provider},
    )  # fmt: skip
    final = migrated_server(
        version, tmp, runtime, keys, phase="final",
        extra={**legacy, "START_MODE": "run", "RECORD": record,
               "DENYLIST": str(tmp / "denylist.sqlite3")},
    )  # fmt: skip
    with hybrid, final, httpx.Client(timeout=30.0) as http:
        yield Deployment(version, hybrid, final, runtime, keys, http)


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = f"{client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode("ascii")}


def introspect(d: Deployment, token: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return d.http.post(
        d.hybrid.base_url + "/introspect", data={"token": token}, headers=headers or {}
    )


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    def part(segment: str) -> dict[str, Any]:
        decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(segment + "=" * 4))
        return decoded

    header, payload, _ = token.split(".")
    return part(header), part(payload)


# -- discovery -------------------------------------------------------------------------------


def test_metadata_is_the_sdks_document_plus_the_jwt_members(d: Deployment) -> None:
    """Every member the SDK serves is unchanged (the issuer byte for byte); jwks_uri,
    introspection and S256 are added."""
    base = d.hybrid.base_url
    sdk = plain_metadata(d.version, d.runtime, d.keys, base)
    served = d.http.get(base + AS_METADATA).json()
    assert {k: served[k] for k in sdk} == sdk
    assert served["jwks_uri"] == base + "/.well-known/jwks.json"
    assert served["introspection_endpoint"] == base + "/introspect"
    assert served["introspection_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
    ]
    assert "S256" in served["code_challenge_methods_supported"]


def test_issuer_keeps_the_sdks_trailing_slash(d: Deployment) -> None:
    """mcp 1.x and fastmcp render the issuer through pydantic's AnyHttpUrl, with a final
    slash; mcp 2.x without one. The JWT's iss is the same string."""
    issuer = d.http.get(d.hybrid.base_url + AS_METADATA).json()["issuer"]
    slash = "/" if d.version.major == 1 or d.version.fastmcp else ""
    assert issuer == d.hybrid.base_url + slash
    _, token = d.grant(d.hybrid)
    assert jwt_parts(token)[1]["iss"] == issuer


def test_jwks_is_served_and_cacheable(d: Deployment) -> None:
    """The JWKS lists the signing key by its thumbprint, with a public max-age."""
    response = d.http.get(d.hybrid.base_url + "/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["cache-control"].startswith("public, max-age=")
    (key,) = response.json()["keys"]
    assert key["kid"] == KeyFolder(d.keys).ring().signing_key.kid
    assert "d" not in key and key["alg"] == "RS256"


@pytest.mark.parametrize("path", [PRM_ROOT + "/mcp", PRM_ROOT])
def test_protected_resource_metadata_where_the_sdk_serves_none(d: Deployment, path: str) -> None:
    """RFC 9728 metadata at the MCP path and at the root, naming the issuer byte for byte."""
    issuer = d.http.get(d.hybrid.base_url + AS_METADATA).json()["issuer"]
    response = d.http.get(d.hybrid.base_url + path)
    assert response.status_code == 200
    document = response.json()
    assert document["resource"] == d.hybrid.base_url + "/mcp"
    assert document["authorization_servers"] == [issuer]


def test_401_without_token_names_the_resource_metadata(d: Deployment) -> None:
    """A request with no token gets a Bearer challenge with resource_metadata."""
    response = send_initialize(d.http, d.hybrid.base_url + "/mcp", None)
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert f'resource_metadata="{d.hybrid.base_url}{PRM_ROOT}/mcp"' in challenge


def test_401_for_a_bad_token_says_invalid_token(d: Deployment) -> None:
    """A forged JWT-shaped token is refused with invalid_token and the metadata hint."""
    forged = "eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.eyJzdWIiOiJ4In0."
    response = send_initialize(d.http, d.hybrid.base_url + "/mcp", forged)
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert 'error="invalid_token"' in challenge and "resource_metadata=" in challenge


# -- minting and the hybrid gate ---------------------------------------------------------------


def test_code_exchange_mints_an_rfc9068_jwt(d: Deployment) -> None:
    """The token endpoint answers a JWT: at+jwt, our kid, iss = the metadata issuer,
    aud = the MCP URL, the scope list as one string."""
    client, token = d.grant(d.hybrid)
    header, claims = jwt_parts(token)
    issuer = d.http.get(d.hybrid.base_url + AS_METADATA).json()["issuer"]
    assert header["typ"] == "at+jwt" and header["alg"] == "RS256"
    assert claims["iss"] == issuer
    assert claims["client_id"] == client.client_id
    assert claims["sub"] == "demo-user"
    assert claims["scope"] == "mcp"
    assert claims["aud"] == d.hybrid.base_url + "/mcp"


def test_hybrid_accepts_the_jwt_at_mcp(d: Deployment) -> None:
    """tools/call with the new JWT goes through the SDK's bearer middleware."""
    client, token = d.grant(d.hybrid)
    said = whoami_with(d.http, d.hybrid.base_url + "/mcp", token)
    assert said.split()[:2] == ["demo-user", client.client_id]


def test_hybrid_accepts_an_opaque_token_issued_before(d: Deployment) -> None:
    """A legacy opaque token still works in the hybrid phase."""
    said = whoami_with(d.http, d.hybrid.base_url + "/mcp", LEGACY_TOKEN)
    assert said.split()[1] == LEGACY_CLIENT


def test_revoked_by_delete_jwt_is_refused(d: Deployment) -> None:
    """Revoking deletes the record from the store, and the hybrid gate then refuses the
    still-valid JWT at /mcp and in introspection."""
    flow = d.flow(d.hybrid)
    client, token = d.grant(d.hybrid)
    assert whoami_with(d.http, d.hybrid.base_url + "/mcp", token)
    flow.revoke(client, token)
    assert send_initialize(d.http, d.hybrid.base_url + "/mcp", token).status_code == 401
    secret = client.client_secret or ""
    assert introspect(d, token, basic(client.client_id, secret)).json() == {"active": False}


# -- introspection -----------------------------------------------------------------------------


def test_introspection_of_own_jwt_is_active(d: Deployment) -> None:
    """A client introspecting its own JWT sees it active, with its claims."""
    client, token = d.grant(d.hybrid)
    response = introspect(d, token, basic(client.client_id, client.client_secret or ""))
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["active"] is True
    assert (body["client_id"], body["sub"], body["scope"]) == (client.client_id, "demo-user", "mcp")


def test_introspection_with_client_secret_post(d: Deployment) -> None:
    """The form-field client authentication works too."""
    client, token = d.grant(d.hybrid)
    form = {"token": token, "client_id": client.client_id, "client_secret": client.client_secret}
    body = d.http.post(d.hybrid.base_url + "/introspect", data=form).json()
    assert body["active"] is True


def test_introspection_of_another_clients_token_is_inactive(d: Deployment) -> None:
    """A client cannot learn about another client's token (RFC 7662 §4)."""
    _, token = d.grant(d.hybrid)
    other = d.flow(d.hybrid).register_client(auth_method="client_secret_post")
    response = introspect(d, token, basic(other.client_id, other.client_secret or ""))
    assert response.json() == {"active": False}


def test_introspection_of_an_opaque_token_asks_the_provider(d: Deployment) -> None:
    """In hybrid, an opaque token is looked up through the provider's load_access_token."""
    body = introspect(d, LEGACY_TOKEN, basic(LEGACY_CLIENT, LEGACY_SECRET)).json()
    assert body["active"] is True and body["client_id"] == LEGACY_CLIENT
    assert body["scope"] == "mcp"


def test_introspection_with_a_bad_secret_is_401(d: Deployment) -> None:
    """A wrong secret for a real client is refused before any token is looked at."""
    client, token = d.grant(d.hybrid)
    response = introspect(d, token, basic(client.client_id, "wrong" + (client.client_secret or "")))
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client"}


def test_introspection_without_client_authentication_is_401(d: Deployment) -> None:
    """No credentials at all: 401, so the endpoint cannot scan for live tokens."""
    _, token = d.grant(d.hybrid)
    assert introspect(d, token).status_code == 401


def test_introspection_by_a_public_client_is_401(d: Deployment) -> None:
    """A client registered without a secret cannot authenticate, whatever it sends."""
    public = d.flow(d.hybrid).register_client(auth_method="none")
    _, token = d.grant(d.hybrid)
    response = introspect(d, token, basic(public.client_id, ""))
    assert response.status_code == 401


# -- the final phase -----------------------------------------------------------------------


def test_final_accepts_the_jwt_with_the_record_builder(d: Deployment) -> None:
    """mcp.run(...) serves the runtime too, and the record built from the claims satisfies
    the bearer middleware of this SDK version (mcp >= 1.27.2 reads token.claims)."""
    client, token = d.grant(d.final)
    said = whoami_with(d.http, d.final.base_url + "/mcp", token).split()
    expected_class = "AccessToken" if d.version.fastmcp else "UserAccessToken"
    assert said == ["demo-user", client.client_id, expected_class]


def test_final_refuses_the_opaque_token(d: Deployment) -> None:
    """After finalize only JWTs pass: the legacy opaque token answers 401."""
    response = send_initialize(d.http, d.final.base_url + "/mcp", LEGACY_TOKEN)
    assert response.status_code == 401
    assert "resource_metadata=" in response.headers["www-authenticate"]


def test_final_revocation_goes_through_the_denylist(d: Deployment) -> None:
    """revoke_token feeds the jti denylist: the JWT is refused once revoked."""
    flow = d.flow(d.final)
    client, token = d.grant(d.final)
    assert whoami_with(d.http, d.final.base_url + "/mcp", token)
    flow.revoke(client, token)
    assert send_initialize(d.http, d.final.base_url + "/mcp", token).status_code == 401


def test_final_jwt_survives_a_restart_of_an_in_memory_server(d: Deployment) -> None:
    """The point of the migration for in-memory stores: a JWT minted before a restart
    still works after it; a revoked one stays refused (the denylist is a file)."""
    flow = d.flow(d.final)
    _, kept = d.grant(d.final)
    client, revoked = d.grant(d.final)
    flow.revoke(client, revoked)
    d.final.restart()
    assert whoami_with(d.http, d.final.base_url + "/mcp", kept).split()[0] == "demo-user"
    assert send_initialize(d.http, d.final.base_url + "/mcp", revoked).status_code == 401


def test_final_serves_the_metadata_override_from_run(d: Deployment) -> None:
    """The app mcp.run builds internally has the JWKS and the metadata additions."""
    served = d.http.get(d.final.base_url + AS_METADATA).json()
    assert served["jwks_uri"] == d.final.base_url + "/.well-known/jwks.json"
    assert d.http.get(served["jwks_uri"]).status_code == 200


# -- the official SDK client -------------------------------------------------------------------


def test_sdk_client_completes_oauth_and_calls_a_tool(d: Deployment) -> None:
    """OAuthClientProvider: discovery, registration, PKCE, token, then tools/call."""
    run = connect_with_oauth(d.hybrid.base_url + "/mcp", auth_method="client_secret_post")
    assert run.access_token is not None and run.access_token.count(".") == 2
    assert run.whoami.split()[0] == "demo-user"
    assert "whoami" in run.tool_names
