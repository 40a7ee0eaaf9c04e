"""DeferredMigration: the runtime object migrated code imports before the app exists."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from shims.deferred import ENV_ISSUER, DeferredMigration, NotConfigured
from shims.metrics import read_metrics
from shims.settings import ENV_METRICS


def deferred(key_folder: Path, environ: dict[str, str] | None = None) -> DeferredMigration:
    return DeferredMigration(
        mode="hybrid", key_folder=str(key_folder), metrics_path=None, environ=environ or {}
    )


def test_minting_before_install_is_a_clear_error(key_folder: Path) -> None:
    """Without an install call or OAUTH_MIGRATE_ISSUER, minting says what is missing."""
    with pytest.raises(NotConfigured, match=ENV_ISSUER):
        deferred(key_folder).mint_access_token("ada", "client", "mcp")


def test_issuer_from_the_environment_configures_it(key_folder: Path) -> None:
    """OAUTH_MIGRATE_ISSUER lets code outside any app mint and resolve tokens."""
    migration = deferred(key_folder, {ENV_ISSUER: "https://as.example.test"})
    token = migration.mint_access_token("ada", "client", "mcp")
    verified = migration.resolve(token, legacy=lambda t: {"user": "ada"})
    assert verified == {"user": "ada"}


def test_configure_sets_resource_from_the_mcp_path(key_folder: Path) -> None:
    """The resource (and default audience) is the issuer plus the MCP path."""
    runtime = deferred(key_folder).configure("https://as.example.test/")
    assert runtime.settings.resource == "https://as.example.test/mcp"


def test_metadata_gains_the_jwt_members_from_its_own_issuer(key_folder: Path) -> None:
    """The wrapped metadata gets jwks_uri, introspection and S256 built from its issuer."""
    document = deferred(key_folder).authorization_server_metadata(
        {"issuer": "https://as.example.test", "token_endpoint": "https://as.example.test/t"}
    )
    assert document["jwks_uri"] == "https://as.example.test/.well-known/jwks.json"
    assert document["introspection_endpoint"] == "https://as.example.test/introspect"
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["issuer"] == "https://as.example.test"


def test_metadata_teaches_scopes_and_token_endpoint(key_folder: Path) -> None:
    """Serving the metadata tells the runtime the scopes and where the token endpoint is."""
    migration = deferred(key_folder)
    migration.authorization_server_metadata(
        {"issuer": "https://a.test", "token_endpoint": "https://a.test/oauth/token",
         "scopes_supported": ["mcp", "profile"]}
    )  # fmt: skip
    assert migration.scopes == ("mcp", "profile")
    assert migration.token_endpoint == "https://a.test/oauth/token"
    runtime = migration.configure("https://a.test")
    assert runtime.protected_resource_metadata()["scopes_supported"] == ["mcp", "profile"]


def test_reconfiguring_keeps_the_learned_legacy_lookup(key_folder: Path) -> None:
    """A new issuer rebuilds the runtime but keeps the legacy lookup for introspection."""
    migration = deferred(key_folder)
    migration.configure("https://a.test")
    migration.resolve("opaque", legacy=lambda t: None)
    rebuilt = migration.configure("https://b.test")
    assert rebuilt.gate.legacy_lookup is not None


def test_resource_spelled_with_a_final_slash_mints_a_usable_token(key_folder: Path) -> None:
    """A client asking for `.../mcp/` or the base URL gets a token this server accepts."""
    import jwt

    migration = deferred(key_folder, {ENV_ISSUER: "https://as.example.test"})
    for asked in ("https://as.example.test/mcp/", "https://as.example.test/"):
        token = migration.mint_access_token("ada", "client", "mcp", resource=asked)
        assert jwt.decode(token, options={"verify_signature": False})["aud"] == asked.rstrip("/")
        assert migration.resolve(token, legacy=lambda t: {"user": "ada"}) == {"user": "ada"}


def test_hybrid_mint_without_an_issuer_makes_the_legacy_token(key_folder: Path) -> None:
    """A provider built without its server (its own unit tests) still mints in the hybrid
    phase: the legacy expression it was given, as before the migration."""
    token = deferred(key_folder).mint_access_token("ada", "c", "mcp", legacy=lambda: "opaque-1")
    assert token == "opaque-1"


def test_hybrid_mint_without_an_issuer_counts_an_opaque_mint(tmp_path: Path) -> None:
    """That opaque token is in the metrics file, so status waits a lifetime after it."""
    metrics = tmp_path / "metrics.sqlite3"
    migration = DeferredMigration(
        mode="hybrid", key_folder=str(tmp_path / "keys"), metrics_path=str(metrics), environ={}
    )
    migration.mint_access_token("ada", "client-7", "mcp", legacy=lambda: "opaque-1")
    evidence = read_metrics(metrics)
    assert evidence.opaque_minted == 1
    assert evidence.last_opaque_minted is not None


def test_hybrid_resolve_without_an_issuer_asks_the_legacy_lookup(key_folder: Path) -> None:
    """The legacy lookup answers, unknown tokens included, as the legacy gate did."""
    migration = deferred(key_folder)
    store = {"opaque-1": {"user": "ada"}}
    assert migration.resolve("opaque-1", legacy=store.get) == {"user": "ada"}
    assert migration.resolve("other", legacy=store.get) is None


def test_hybrid_resolve_async_without_an_issuer_awaits_the_legacy_lookup(
    key_folder: Path,
) -> None:
    async def lookup(token: str) -> dict[str, str] | None:
        return {"user": "ada"} if token == "opaque-1" else None

    found = asyncio.run(deferred(key_folder).resolve_async("opaque-1", legacy=lookup))
    assert found == {"user": "ada"}


def test_final_mint_without_an_issuer_is_still_an_error(key_folder: Path) -> None:
    """The final phase never mints an opaque token: no issuer is a clear error."""
    migration = DeferredMigration(
        mode="final", key_folder=str(key_folder), metrics_path=None, environ={}
    )
    with pytest.raises(NotConfigured, match=ENV_ISSUER):
        migration.mint_access_token("ada", "c", "mcp", legacy=lambda: "opaque-1")
    with pytest.raises(NotConfigured):
        migration.resolve("opaque-1", legacy={"opaque-1": 1}.get)


def test_an_issuer_from_the_environment_wins_over_the_legacy_mint(key_folder: Path) -> None:
    """With OAUTH_MIGRATE_ISSUER set the hybrid mint is a JWT, never the legacy token."""
    migration = deferred(key_folder, {ENV_ISSUER: "https://as.example.test"})
    token = migration.mint_access_token("ada", "c", "mcp", legacy=lambda: "opaque-1")
    assert token.count(".") == 2


def test_the_opaque_mint_is_counted_where_the_environment_says(tmp_path: Path) -> None:
    """OAUTH_MIGRATE_METRICS moves the metrics file for the runtime; the count of an
    opaque mint made with no issuer goes there too, where status reads it."""
    shared, local = tmp_path / "shared.sqlite3", tmp_path / "local.sqlite3"
    migration = DeferredMigration(
        mode="hybrid",
        key_folder=str(tmp_path / "keys"),
        metrics_path=str(local),
        environ={ENV_METRICS: str(shared)},
    )
    for _ in range(2):
        migration.mint_access_token("ada", "client-7", "mcp", legacy=lambda: "opaque-1")
    assert read_metrics(shared).opaque_minted == 2
    assert not local.exists()
