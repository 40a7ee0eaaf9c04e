"""End to end: a legacy server, its opaque tokens, `migrate plan` + `apply`, then the hybrid phase.

For each server (the bundled ``sample_legacy`` and four fixture servers) a module-scoped
fixture copies it into a temporary folder, starts it from its START command on a
persistent token store, obtains opaque tokens, stops it, runs ``python -m migrate plan``
and ``apply --yes`` on the copy, and starts it again on the same store and port. The tests
then check the migrated server over real HTTP, the way clients and resource servers see it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.migrate.e2e_support import (
    FIXTURE_SERVERS,
    REPO_ROOT,
    Migration,
    PytestOutcome,
    copy_tree,
    fetch_json,
    jwk_for,
    jwt_claims,
    jwt_header,
    migrate_to_hybrid,
    run_pytest,
    verify_jwt,
)
from tests.migrate.tree_support import sample_server
from tests.sample_legacy.launch import HERMETIC_ENV
from tests.support.oauth_flow import (
    McpSession,
    OAuthFlow,
    RegisteredClient,
    TokenSet,
    basic_authorization,
    looks_like_jwt,
    send_initialize,
    whoami_with,
)
from tests.support.sdk_client import connect_with_oauth
from tests.support.server_process import ServerProcess, command_from_start_file

MAX_LIFETIME = 3600
JWT_TYPES = ("at+jwt", "application/at+jwt")


@dataclass(frozen=True)
class ServerCase:
    """One legacy server: how to copy, start and store it, and how to run its own tests."""

    name: str
    user: str  # the demo user every authorization is granted to
    copy: Callable[[Path], Path]  # workdir -> the folder START runs from
    start_file: str  # relative to that folder
    store_env: Callable[[Path], dict[str, str | None]]  # store folder -> environment
    run_legacy_tests: Callable[
        [Path, Path], PytestOutcome
    ]  # (migrated root, report folder) -> outcome
    # Tests of the server's own suite that pin the legacy defect itself, so they must fail
    # once the server is migrated: test id -> why.
    pinned_legacy_defects: Mapping[str, str]
    mcp_path: str = "/mcp"  # where its MCP endpoint is (its README says)


# -- sample_legacy ---------------------------------------------------------------------


def _sample_tests(root: Path, reports: Path) -> PytestOutcome:
    # The repository's tests/sample_legacy, pointed at the migrated copy (launch.py).
    return run_pytest(
        ["tests/sample_legacy"],
        cwd=REPO_ROOT,
        report=reports / "sample_legacy.xml",
        env={"SAMPLE_LEGACY_ROOT": str(root)},
    )


SAMPLE = ServerCase(
    name="sample_legacy",
    user="alice",
    copy=sample_server,
    start_file="sample_legacy/START",
    store_env=lambda store: {**HERMETIC_ENV, "SAMPLE_TOKEN_DB": str(store / "tokens.sqlite3")},
    run_legacy_tests=_sample_tests,
    pinned_legacy_defects={
        "tests.sample_legacy.test_metadata::test_no_jwks_uri": (
            "pins the missing jwks_uri; the migration adds it"
        ),
        "tests.sample_legacy.test_metadata::test_no_introspection_endpoint": (
            "pins the missing introspection_endpoint; the migration adds it"
        ),
        "tests.sample_legacy.test_metadata::test_no_protected_resource_metadata": (
            "pins the missing RFC 9728 metadata; the migration serves it"
        ),
        "tests.sample_legacy.test_mcp_endpoint::test_challenge_has_no_resource_metadata": (
            "pins the 401 challenge without resource_metadata; the migration adds it"
        ),
        "tests.sample_legacy.test_token::test_access_token_is_opaque": (
            "pins opaque access tokens; the migration issues JWTs"
        ),
        "tests.sample_legacy.test_refresh_and_revoke::test_refreshed_access_token_is_opaque": (
            "pins opaque access tokens from refresh; the migration issues JWTs"
        ),
        "tests.sample_legacy.test_sdk_client::test_sdk_stored_an_opaque_token": (
            "pins the opaque token the SDK stores; the migration issues JWTs"
        ),
    },
)


# -- the fixture servers ---------------------------------------------------------------


def _fixture_copier(folder: str) -> Callable[[Path], Path]:
    def copy(workdir: Path) -> Path:
        return copy_tree(FIXTURE_SERVERS / folder, workdir / "server")

    return copy


def _fixture_tests(root: Path, reports: Path) -> PytestOutcome:
    # Their own suite, run from the migrated copy (their conftest starts START from there).
    return run_pytest(["tests"], cwd=root, report=reports / f"{root.name}.xml")


FASTAPI_ROUTER = ServerCase(
    name="fastapi_router",
    user="marie",
    copy=_fixture_copier("fastapi_router"),
    start_file="START",
    store_env=lambda store: {
        "TOKENS_FILE": str(store / "tokens.json"),
        "CLIENTS_FILE": str(store / "clients.json"),
        "HOST": None,
    },
    run_legacy_tests=_fixture_tests,
    pinned_legacy_defects={
        "tests.check_legacy::test_metadata_is_the_legacy_document": (
            "asserts jwks_uri, introspection_endpoint and code_challenge_methods_supported "
            "are absent; the migration adds all three"
        ),
        "tests.check_legacy::test_no_protected_resource_metadata": (
            "asserts 404 for the RFC 9728 metadata; the migration serves it"
        ),
        "tests.check_legacy::test_code_flow_and_whoami": (
            "asserts the access token is an opaque `atk-` string without dots; "
            "the migration issues JWTs"
        ),
        "tests.check_legacy::test_401_without_or_with_bad_token": (
            "asserts the 401 challenge has no resource_metadata; the migration adds it"
        ),
    },
)

FLASK_BLUEPRINT = ServerCase(
    name="flask_blueprint",
    user="kofi",
    copy=_fixture_copier("flask_blueprint"),
    start_file="START",
    store_env=lambda store: {"TOKEN_DB": str(store / "tokens.db"), "HOST": None},
    run_legacy_tests=_fixture_tests,
    pinned_legacy_defects={
        "tests.check_legacy::test_as_metadata": (
            "asserts jwks_uri and introspection_endpoint are absent; the migration adds them"
        ),
        "tests.check_legacy::test_prm_only_at_the_root": (
            "asserts 404 at the path-inserted RFC 9728 URL; the migration serves it there"
        ),
        "tests.check_legacy::test_authorization_code_flow": (
            "asserts the access token is a 32-character uuid4 hex; the migration issues JWTs"
        ),
        "tests.check_legacy::test_401s": (
            'asserts the challenge is exactly `Bearer realm="notes"`; the migration adds '
            "resource_metadata (and error=invalid_token)"
        ),
    },
)

# Generator dependencies (a connection per request, closed after it) feed the gate's
# lookup; tokens hashed at rest. Its own tests pin no legacy defect.
FASTAPI_DEPENDS_DB = ServerCase(
    name="fastapi_depends_db",
    user="ines",
    copy=_fixture_copier("fastapi_depends_db"),
    start_file="START",
    store_env=lambda store: {"QUIRE_DATABASE": str(store / "quire.sqlite3")},
    run_legacy_tests=_fixture_tests,
    pinned_legacy_defects={},
)

# An app made by a factory in another module, MCP at /api/mcp under a Mount (#12 items 5, 6).
STARLETTE_FACTORY_MOUNT = ServerCase(
    name="starlette_factory_mount",
    user="ingrid",
    copy=_fixture_copier("starlette_factory_mount"),
    start_file="START",
    store_env=lambda store: {"LANTERN_SHELF": str(store / "shelf"), "HOST": None},
    run_legacy_tests=_fixture_tests,
    pinned_legacy_defects={
        "tests.spec_legacy.TestDiscovery::test_metadata_has_no_jwks_and_no_introspection": (
            "asserts jwks_uri and introspection_endpoint are absent; the migration adds them"
        ),
        "tests.spec_legacy.TestMcp::test_access_token_is_opaque": (
            "asserts the access token has no dots; the migration issues JWTs"
        ),
    },
    mcp_path="/api/mcp",
)

# A Flask factory imported by wsgi.py, MCP on a blueprint registered under /agent.
FLASK_FACTORY_PREFIX = ServerCase(
    name="flask_factory_prefix",
    user="wen",
    copy=_fixture_copier("flask_factory_prefix"),
    start_file="START",
    store_env=lambda store: {"ATLAS_BOOK": str(store / "book.pickle"), "HOST": None},
    run_legacy_tests=_fixture_tests,
    pinned_legacy_defects={
        "tests.test_atlas::test_discovery_is_the_legacy_document": (
            "asserts jwks_uri is absent; the migration adds it"
        ),
        "tests.test_atlas::test_tokens_are_opaque_atl_strings": (
            "asserts the access token starts with atl_; the migration issues JWTs"
        ),
    },
    mcp_path="/agent/mcp",
)

CASES = [
    SAMPLE,
    FASTAPI_ROUTER,
    FLASK_BLUEPRINT,
    FASTAPI_DEPENDS_DB,
    STARLETTE_FACTORY_MOUNT,
    FLASK_FACTORY_PREFIX,
]


# -- the migrated server ---------------------------------------------------------------


@dataclass(frozen=True)
class Grant:
    client: RegisteredClient
    tokens: TokenSet


@dataclass
class MigratedServer:
    case: ServerCase
    root: Path
    workdir: Path
    server: ServerProcess
    migration: Migration
    legacy: Grant  # issued before the apply; used at /mcp and introspected, never refreshed
    legacy_for_refresh: Grant  # issued before the apply; its refresh token is redeemed once
    # Introspection answers right after the restart, before any request to /mcp (the
    # answer, or what went wrong getting it): "opaque" for legacy, "jwt" for a fresh JWT.
    introspected_at_restart: dict[str, httpx.Response | str]

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def mcp_url(self) -> str:
        return self.server.base_url + self.case.mcp_path


def _legacy_grant(flow: OAuthFlow, http: httpx.Client, case: ServerCase) -> Grant:
    client, tokens = flow.obtain_tokens()
    assert not looks_like_jwt(tokens.access_token), "the legacy server already issues JWTs"
    assert tokens.refresh_token, "the legacy server issued no refresh token"
    assert whoami_with(http, flow.base_url + case.mcp_path, tokens.access_token) == case.user
    return Grant(client, tokens)


@pytest.fixture(scope="module", params=CASES, ids=[case.name for case in CASES])
def migrated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MigratedServer]:
    """The server migrated to the hybrid phase and running again on its pre-migration store."""
    case: ServerCase = request.param
    workdir = tmp_path_factory.mktemp(case.name)
    root = case.copy(workdir)
    store = workdir / "store"
    store.mkdir()
    server = ServerProcess(
        command_from_start_file(root / case.start_file),
        cwd=root,
        log_dir=workdir,
        env=case.store_env(store),
    )
    try:
        server.start()
        with httpx.Client(timeout=15.0) as http:
            flow = OAuthFlow(server.base_url, http)
            legacy = _legacy_grant(flow, http, case)
            legacy_for_refresh = _legacy_grant(flow, http, case)
        server.stop()
        migration = migrate_to_hybrid(root)
        server.start()
        at_restart = _introspect_at_restart(server.base_url, case.mcp_path, legacy)
        yield MigratedServer(
            case, root, workdir, server, migration, legacy, legacy_for_refresh, at_restart
        )
    finally:
        server.stop()


def _introspect_at_restart(
    base_url: str, mcp_path: str, legacy: Grant
) -> dict[str, httpx.Response | str]:
    """Introspect the legacy token and a fresh JWT before anything has been sent to /mcp."""
    answers: dict[str, httpx.Response | str] = {}
    with httpx.Client(timeout=15.0) as http:
        flow = OAuthFlow(base_url, http)
        try:
            metadata = flow.metadata
            answers["opaque"] = _introspect(
                http, metadata, legacy.tokens.access_token, legacy.client
            )
            _, tokens = flow.obtain_tokens(legacy.client, resource=base_url + mcp_path)
            answers["jwt"] = _introspect(http, metadata, tokens.access_token, legacy.client)
        except (AssertionError, httpx.HTTPError) as problem:
            for kind in ("opaque", "jwt"):
                answers.setdefault(kind, f"{type(problem).__name__}: {problem}")
    return answers


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=15.0) as client:
        yield client


@pytest.fixture(scope="module")
def metadata(migrated: MigratedServer) -> dict[str, Any]:
    with httpx.Client(timeout=15.0) as http:
        return fetch_json(http, migrated.base_url + "/.well-known/oauth-authorization-server")


@pytest.fixture(scope="module")
def jwks(migrated: MigratedServer, metadata: dict[str, Any]) -> dict[str, Any]:
    assert isinstance(metadata.get("jwks_uri"), str), f"no jwks_uri in {metadata}"
    with httpx.Client(timeout=15.0) as http:
        return fetch_json(http, metadata["jwks_uri"])


@pytest.fixture(scope="module")
def fresh(migrated: MigratedServer) -> Grant:
    """A grant for the /mcp resource, after the apply, for the client registered before it."""
    with httpx.Client(timeout=15.0) as http:
        flow = OAuthFlow(migrated.base_url, http)
        client, tokens = flow.obtain_tokens(migrated.legacy.client, resource=migrated.mcp_url)
    return Grant(client, tokens)


def _introspect(
    http: httpx.Client,
    metadata: Mapping[str, Any],
    token: str,
    client: RegisteredClient | None,
    *,
    secret: str | None = None,
) -> httpx.Response:
    endpoint = metadata.get("introspection_endpoint")
    assert isinstance(endpoint, str), f"no introspection_endpoint in {metadata}"
    headers = {}
    if client is not None:
        assert client.client_secret is not None
        headers["Authorization"] = basic_authorization(
            client.client_id, secret if secret is not None else client.client_secret
        )
    return http.post(endpoint, data={"token": token}, headers=headers)


def _describe(response: httpx.Response) -> str:
    request = response.request
    return f"{request.method} {request.url} -> {response.status_code}: {response.text[:800]}"


# -- the kit's commands ----------------------------------------------------------------


def test_plan_and_apply_enter_the_hybrid_phase(migrated: MigratedServer) -> None:
    """`migrate plan` exits 2 with a legacy -> hybrid plan; `apply --yes` enters hybrid."""
    assert "legacy -> hybrid" in migrated.migration.plan.stdout, migrated.migration.plan.describe()
    assert "phase is now hybrid" in migrated.migration.apply.stdout, (
        migrated.migration.apply.describe()
    )


# -- the JWT the token endpoint now issues ---------------------------------------------


def test_token_endpoint_issues_rs256_jwt_with_published_kid(
    fresh: Grant, jwks: dict[str, Any]
) -> None:
    """The code grant now yields an RS256 `at+jwt` whose `kid` is in the served JWKS."""
    token = fresh.tokens.access_token
    assert looks_like_jwt(token), f"not a JWT: {token!r}"
    header = jwt_header(token)
    assert header.get("alg") == "RS256", header
    assert str(header.get("typ", "")).lower() in JWT_TYPES, header
    assert jwk_for(jwks, str(header.get("kid"))) is not None, (header, jwks)
    assert fresh.tokens.token_type.lower() == "bearer", fresh.tokens.response


def test_jwt_claims_meet_rfc_9068(
    migrated: MigratedServer, metadata: dict[str, Any], fresh: Grant
) -> None:
    """The JWT's iss, aud, sub, client_id, scope, iat/exp and jti are those RFC 9068 requires."""
    claims = jwt_claims(fresh.tokens.access_token)
    assert claims.get("iss") == metadata["issuer"] == migrated.base_url, claims
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    assert migrated.mcp_url in audiences, claims
    assert claims.get("sub") == migrated.case.user, claims
    assert claims.get("client_id") == migrated.legacy.client.client_id, claims
    assert isinstance(claims.get("scope"), str), claims
    assert isinstance(claims.get("iat"), int) and isinstance(claims.get("exp"), int), claims
    assert 0 < claims["exp"] - claims["iat"] <= MAX_LIFETIME, claims
    assert isinstance(claims.get("jti"), str) and claims["jti"], claims


def test_jwt_verifies_with_the_jwks_key(
    migrated: MigratedServer, metadata: dict[str, Any], jwks: dict[str, Any], fresh: Grant
) -> None:
    """pyjwt, pinned to RS256 and given the JWKS key for the header's kid, verifies the JWT."""
    claims = verify_jwt(
        fresh.tokens.access_token, jwks, issuer=metadata["issuer"], audience=migrated.mcp_url
    )
    assert claims["sub"] == migrated.case.user


def test_jwt_without_resource_names_the_mcp_endpoint(
    migrated: MigratedServer, metadata: dict[str, Any], jwks: dict[str, Any], http: httpx.Client
) -> None:
    """A grant requested without an RFC 8707 resource yields a JWT whose aud is BASE_URL/mcp."""
    _, tokens = OAuthFlow(migrated.base_url, http).obtain_tokens()
    claims = verify_jwt(
        tokens.access_token, jwks, issuer=metadata["issuer"], audience=migrated.mcp_url
    )
    audience = claims["aud"]
    assert (audience if isinstance(audience, list) else [audience]) == [migrated.mcp_url], claims


def test_mcp_accepts_the_jwt(migrated: MigratedServer, fresh: Grant, http: httpx.Client) -> None:
    """`/mcp` initialize, tools/list and tools/call whoami accept the JWT and name the demo user."""
    with McpSession(http, migrated.mcp_url, fresh.tokens.access_token) as session:
        session.initialize()
        assert "whoami" in [tool["name"] for tool in session.list_tools()]
        assert session.whoami() == migrated.case.user


# -- tokens issued before the apply ----------------------------------------------------


def test_legacy_opaque_token_still_accepted(migrated: MigratedServer, http: httpx.Client) -> None:
    """The opaque access token issued before the apply still opens /mcp; whoami names its user."""
    token = migrated.legacy.tokens.access_token
    assert not looks_like_jwt(token)
    assert whoami_with(http, migrated.mcp_url, token) == migrated.case.user


def test_legacy_refresh_token_yields_a_jwt(
    migrated: MigratedServer, metadata: dict[str, Any], jwks: dict[str, Any], http: httpx.Client
) -> None:
    """A refresh token issued before the apply yields a verifiable JWT for the same grant."""
    grant = migrated.legacy_for_refresh
    assert grant.tokens.refresh_token is not None
    refreshed = OAuthFlow(migrated.base_url, http).refresh(grant.client, grant.tokens.refresh_token)
    assert looks_like_jwt(refreshed.access_token), refreshed.response
    claims = verify_jwt(
        refreshed.access_token, jwks, issuer=metadata["issuer"], audience=migrated.mcp_url
    )
    assert claims["sub"] == migrated.case.user, claims
    assert claims.get("client_id") == grant.client.client_id, claims
    assert whoami_with(http, migrated.mcp_url, refreshed.access_token) == migrated.case.user


# -- introspection ---------------------------------------------------------------------


def test_introspection_of_the_jwt_is_active(
    migrated: MigratedServer, metadata: dict[str, Any], fresh: Grant, http: httpx.Client
) -> None:
    """After its use at /mcp, the JWT introspects active with sub and client_id (Basic auth)."""
    assert whoami_with(http, migrated.mcp_url, fresh.tokens.access_token) == migrated.case.user
    response = _introspect(http, metadata, fresh.tokens.access_token, migrated.legacy.client)
    assert response.status_code == 200, _describe(response)
    body = response.json()
    assert body.get("active") is True, _describe(response)
    assert body.get("sub") == migrated.case.user, _describe(response)
    assert body.get("client_id") == migrated.legacy.client.client_id, _describe(response)


def test_introspection_of_the_legacy_opaque_token_is_active(
    migrated: MigratedServer, metadata: dict[str, Any], http: httpx.Client
) -> None:
    """After its use at /mcp, the pre-apply opaque token introspects active with sub, client_id."""
    legacy = migrated.legacy
    assert whoami_with(http, migrated.mcp_url, legacy.tokens.access_token) == migrated.case.user
    response = _introspect(http, metadata, legacy.tokens.access_token, legacy.client)
    assert response.status_code == 200, _describe(response)
    body = response.json()
    assert body.get("active") is True, _describe(response)
    assert body.get("sub") == migrated.case.user, _describe(response)
    assert body.get("client_id") == legacy.client.client_id, _describe(response)


@pytest.mark.parametrize("kind", ["opaque", "jwt"])
def test_introspection_right_after_restart(migrated: MigratedServer, kind: str) -> None:
    """Before any /mcp request, the legacy token and a fresh JWT already introspect active."""
    response = migrated.introspected_at_restart[kind]
    assert isinstance(response, httpx.Response), response
    assert response.status_code == 200, _describe(response)
    body = response.json()
    assert body.get("active") is True, _describe(response)
    assert body.get("sub") == migrated.case.user, _describe(response)
    assert body.get("client_id") == migrated.legacy.client.client_id, _describe(response)


def test_introspection_requires_client_authentication(
    migrated: MigratedServer, metadata: dict[str, Any], fresh: Grant, http: httpx.Client
) -> None:
    """Introspection without client credentials, or with a wrong secret, is answered 401."""
    token = fresh.tokens.access_token
    anonymous = _introspect(http, metadata, token, None)
    assert anonymous.status_code == 401, _describe(anonymous)
    wrong = _introspect(http, metadata, token, migrated.legacy.client, secret="not-the-secret")
    assert wrong.status_code == 401, _describe(wrong)


# -- discovery -------------------------------------------------------------------------


def test_as_metadata_advertises_jwks_introspection_and_s256(
    migrated: MigratedServer, metadata: dict[str, Any]
) -> None:
    """The RFC 8414 metadata now has jwks_uri, introspection_endpoint and S256, same issuer."""
    assert metadata.get("issuer") == migrated.base_url, metadata
    assert isinstance(metadata.get("jwks_uri"), str), metadata
    assert isinstance(metadata.get("introspection_endpoint"), str), metadata
    assert "S256" in metadata.get("code_challenge_methods_supported", []), metadata


def test_protected_resource_metadata_at_the_path_inserted_url(
    migrated: MigratedServer, metadata: dict[str, Any], http: httpx.Client
) -> None:
    """RFC 9728 metadata at /.well-known/oauth-protected-resource/mcp names the issuer."""
    well_known = "/.well-known/oauth-protected-resource" + migrated.case.mcp_path
    prm = fetch_json(http, migrated.base_url + well_known)
    assert prm.get("resource") == migrated.mcp_url, prm
    assert prm.get("authorization_servers") == [metadata["issuer"]], prm


def test_401_at_mcp_points_at_resource_metadata(
    migrated: MigratedServer, metadata: dict[str, Any], http: httpx.Client
) -> None:
    """A request to /mcp without a token gets 401 whose Bearer challenge names resource_metadata."""
    response = send_initialize(http, migrated.mcp_url, None)
    assert response.status_code == 401, _describe(response)
    challenge = response.headers.get("www-authenticate", "")
    assert challenge.lower().startswith("bearer"), challenge
    found = re.search(r'resource_metadata="([^"]+)"', challenge)
    assert found is not None, challenge
    prm = fetch_json(http, found.group(1))
    assert prm.get("authorization_servers") == [metadata["issuer"]], prm


# -- a real client ---------------------------------------------------------------------


def test_official_sdk_client_gets_a_jwt(
    migrated: MigratedServer, metadata: dict[str, Any], jwks: dict[str, Any]
) -> None:
    """The MCP SDK client discovers, registers, authorizes with PKCE and calls whoami with a JWT."""
    run = connect_with_oauth(migrated.mcp_url)
    assert run.whoami == migrated.case.user
    assert "whoami" in run.tool_names
    assert run.access_token is not None and looks_like_jwt(run.access_token), run.access_token
    claims = verify_jwt(
        run.access_token, jwks, issuer=metadata["issuer"], audience=migrated.mcp_url
    )
    assert run.client_info is not None
    assert claims.get("client_id") == run.client_info.client_id, claims


# -- the server's own tests ------------------------------------------------------------


def test_legacy_tests_still_pass(migrated: MigratedServer, tmp_path: Path) -> None:
    """The server's own tests pass on the migrated copy, except those pinning the legacy defect."""
    outcome = migrated.case.run_legacy_tests(migrated.root, tmp_path)
    expected = migrated.case.pinned_legacy_defects
    unexpected = {test: text for test, text in outcome.failed.items() if test not in expected}
    stale = sorted(set(expected) - set(outcome.failed))
    problems = [f"FAILED {test}\n{text[-2500:]}" for test, text in unexpected.items()]
    problems += [f"listed as pinning a legacy defect but did not fail: {test}" for test in stale]
    assert outcome.passed, outcome.run.describe()
    assert not problems, "\n\n".join(problems) + "\n\n" + outcome.run.describe(2000)
