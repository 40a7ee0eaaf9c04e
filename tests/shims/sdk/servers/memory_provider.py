"""The provider of the test servers, as `migrate apply` leaves it: an in-memory store.

``MemoryProvider`` has the SDK's provider methods over dicts; the migration's edits are
marked ``# migrated``: ``mint_access_token`` in both exchanges, ``resolve_async`` in the
gate (hybrid: the legacy lookup; final: the record built from the claims), ``revoke``.
The fastmcp server mixes it into fastmcp's ``OAuthProvider``, with fastmcp's record class.

Environment: ``PHASE`` (hybrid | final), ``KEYS_DIR``, ``DENYLIST`` (the denylist file),
``RECORD`` (sdk | subclass: the final record as the SDK's class or a subclass with
``user_id``), ``LEGACY_TOKENS`` (JSON ``{token: client_id}``: opaque tokens issued before
the migration, for the hybrid phase), ``LEGACY_CLIENTS`` (JSON ``{client_id: secret}``:
clients registered before it).
"""

from __future__ import annotations

import json
import os
import secrets
import time

from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    RefreshToken,
    construct_redirect_uri,
)
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from oauth_migration.deferred import DeferredMigration

USER = "demo-user"
LIFETIME = 3600

oauth_migration = DeferredMigration(
    mode=os.environ.get("PHASE", "hybrid"),  # type: ignore[arg-type]
    key_folder=os.environ["KEYS_DIR"],
    metrics_path=None,
    denylist_path=os.environ.get("DENYLIST") or None,
)


class UserAccessToken(AccessToken):
    user_id: str


class MemoryProvider:
    record_class: type[AccessToken] = AccessToken

    def __init__(self) -> None:
        self.clients: dict[str, OAuthClientInformationFull] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.tokens: dict[str, AccessToken] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        for client_id, secret in json.loads(os.environ.get("LEGACY_CLIENTS", "{}")).items():
            self.clients[client_id] = OAuthClientInformationFull(
                client_id=client_id,
                client_secret=secret,
                redirect_uris=["http://127.0.0.1:53682/callback"],  # type: ignore[list-item]
                token_endpoint_auth_method="client_secret_post",
            )
        for token, client_id in json.loads(os.environ.get("LEGACY_TOKENS", "{}")).items():
            self.tokens[token] = self.record_class(
                token=token,
                client_id=client_id,
                scopes=["mcp"],
                expires_at=int(time.time()) + LIFETIME,
            )

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        return self.clients.get(client_id)

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        self.clients[client_info.client_id] = client_info

    async def authorize(
        self, client: OAuthClientInformationFull, params: AuthorizationParams
    ) -> str:
        code = AuthorizationCode(
            code=secrets.token_urlsafe(24),
            scopes=params.scopes or ["mcp"],
            expires_at=time.time() + 300,
            client_id=client.client_id,
            code_challenge=params.code_challenge,
            redirect_uri=params.redirect_uri,
            redirect_uri_provided_explicitly=params.redirect_uri_provided_explicitly,
            resource=params.resource,
        )
        self.codes[code.code] = code
        return construct_redirect_uri(str(params.redirect_uri), code=code.code, state=params.state)

    async def load_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: str
    ) -> AuthorizationCode | None:
        return self.codes.get(authorization_code)

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: AuthorizationCode
    ) -> OAuthToken:
        self.codes.pop(authorization_code.code, None)
        return self._issue(client.client_id, authorization_code.scopes, authorization_code.resource)

    async def load_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: str
    ) -> RefreshToken | None:
        return self.refresh_tokens.get(refresh_token)

    async def exchange_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: RefreshToken, scopes: list[str]
    ) -> OAuthToken:
        self.refresh_tokens.pop(refresh_token.token, None)
        return self._issue(client.client_id, scopes or refresh_token.scopes, refresh_token.resource)

    def _issue(self, client_id: str, scopes: list[str], resource: str | None) -> OAuthToken:
        access = oauth_migration.mint_access_token(  # migrated
            subject=USER, client_id=client_id, scope=scopes, resource=resource
        )
        expires_at = int(time.time()) + LIFETIME
        self.tokens[access] = self.record_class(
            token=access,
            client_id=client_id,
            scopes=scopes,
            expires_at=expires_at,
            resource=resource,
        )
        refresh = secrets.token_urlsafe(32)
        self.refresh_tokens[refresh] = RefreshToken(
            token=refresh, client_id=client_id, scopes=scopes, resource=resource
        )
        return OAuthToken(
            access_token=access,
            token_type="Bearer",
            expires_in=LIFETIME,
            scope=" ".join(scopes),
            refresh_token=refresh,
        )

    async def load_access_token(self, token: str) -> AccessToken | None:
        if oauth_migration.mode == "hybrid":
            return await oauth_migration.resolve_async(  # migrated
                token, legacy=lambda token: self.tokens.get(token)
            )
        if os.environ.get("RECORD") == "subclass":
            return await oauth_migration.resolve_async(  # migrated
                token,
                record=lambda c: oauth_migration.sdk_record(c, UserAccessToken, user_id=c.sub),
            )
        return await oauth_migration.resolve_async(  # migrated
            token, record=lambda c: oauth_migration.sdk_record(c, self.record_class)
        )

    async def revoke_token(self, token: AccessToken | RefreshToken) -> None:
        self.tokens.pop(token.token, None)
        self.refresh_tokens.pop(token.token, None)
        oauth_migration.revoke(token.token)  # migrated
