"""The object migrated code imports: a runtime that learns its issuer when the app is built.

Migrated modules import one module-level object (``wiring.migration``) before the legacy
app exists, and the issuer is often only known inside the app factory. So this object
holds the settings that do not depend on the app (phase, key folder, metrics file, MCP
path, token lifetime) and builds the :class:`OAuthMigration` when ``install_starlette`` or
``install_flask`` gives it the app and the issuer, or ``install_mcp`` the MCP SDK's server
object (which knows its issuer: see :mod:`.mcp_sdk`). ``OAUTH_MIGRATE_ISSUER`` configures it
without an install call (code paths outside any app, such as unit tests of a token store).

Neither done, the hybrid phase still works as the legacy code did: a mint passed its legacy
expression (``legacy=``) makes an opaque token and a resolve asks the legacy lookup, as a
unit test of a provider built without its server expects. Each such mint is logged and
counted in the metrics file as an opaque mint, so ``migrate status`` waits a full token
lifetime after it. The final phase has no such path: it raises :class:`NotConfigured`.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

from .discovery import augment_metadata
from .gate import Mode
from .introspection import ClientAuthenticator
from .metrics import Metrics
from .policy import DEFAULT_LIFETIME
from .records import Row
from .runtime import OAuthMigration
from .settings import ENV_METRICS, Settings
from .verifier import VerifiedToken

log = logging.getLogger("oauth_migration")

ENV_ISSUER = "OAUTH_MIGRATE_ISSUER"


class NotConfigured(RuntimeError):
    """The runtime was used before the app installed it and no issuer is set."""


class DeferredMigration:
    """Stands for the server's :class:`OAuthMigration` until the app configures it."""

    def __init__(
        self,
        *,
        mode: Mode,
        key_folder: str | None,
        metrics_path: str | None,
        denylist_path: str | None = None,
        mcp_path: str = "/mcp",
        lifetime: int = DEFAULT_LIFETIME,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.mode: Mode = mode
        self.key_folder = key_folder
        self.metrics_path = metrics_path
        self.denylist_path = denylist_path
        self.mcp_path = "/" + mcp_path.strip("/")
        self.lifetime = lifetime
        self.environ = os.environ if environ is None else environ
        self.scopes: tuple[str, ...] = ()
        self.token_endpoint = "/token"
        self.authenticate_client: ClientAuthenticator | None = None
        self.any_client = False
        self._runtime: OAuthMigration | None = None
        self._warned = False
        self._fallback_metrics: Metrics | None = None

    # -- configuration -------------------------------------------------------------------

    def configure(self, issuer: str, resource: str | None = None) -> OAuthMigration:
        """The runtime for ``issuer``; ``resource`` is the MCP URL (default: the issuer's
        origin plus the MCP path). A new issuer or resource builds a new runtime."""
        issuer = self.environ.get(ENV_ISSUER) or issuer
        resource = resource or issuer.rstrip("/") + self.mcp_path
        previous = self._runtime
        same = previous is not None and previous.settings.issuer == issuer
        if previous is not None and same and previous.settings.resource == resource:
            return previous
        if previous is not None:
            log.warning("oauth_migration reconfigured for %s, resource %s", issuer, resource)
        settings = Settings(
            issuer=issuer,
            resource=resource,
            scopes=self.scopes,
            mode=self.mode,
            lifetime=self.lifetime,
            key_folder=self.key_folder,
            metrics_path=self.metrics_path,
            denylist_path=self.denylist_path,
            environ=self.environ,
        )
        self._runtime = OAuthMigration(
            settings, authenticate_client=self._authenticate, legacy_lookup=_lookup_of(previous)
        )
        self._runtime.introspector.any_client = self.any_client
        return self._runtime

    @property
    def runtime(self) -> OAuthMigration:
        if self._runtime is None:
            issuer = self.environ.get(ENV_ISSUER)
            if not issuer:
                raise NotConfigured(
                    f"oauth_migration is not installed on the app yet and {ENV_ISSUER} is not set"
                )
            self.configure(issuer)
        assert self._runtime is not None
        return self._runtime

    def _legacy_only(self, legacy: object) -> bool:
        """Whether to do what the legacy code did: the hybrid phase, a legacy path given,
        and no issuer to mint or verify JWTs with (see the module's docstring)."""
        if self._runtime is not None or self.environ.get(ENV_ISSUER) or legacy is None:
            return False
        if self.mode != "hybrid":
            return False
        if not self._warned:
            self._warned = True
            log.warning(
                "oauth_migration is not installed on the server and %s is not set: "
                "minting and looking up legacy opaque tokens (hybrid phase)",
                ENV_ISSUER,
            )
        return True

    def _opaque_minted(self, client_id: Any) -> None:
        """Count the opaque mint where the runtime would count it (``OAUTH_MIGRATE_METRICS``
        over the wiring's file), at once: a process with no issuer may never flush later."""
        if self._fallback_metrics is None:
            path = self.environ.get(ENV_METRICS, self.metrics_path)
            if not path:
                return
            self._fallback_metrics = Metrics(path)
        self._fallback_metrics.opaque_minted(str(client_id))
        self._fallback_metrics.flush()  # on failure it warns and keeps the count for the next

    def authenticate_clients_with(
        self, authenticate: ClientAuthenticator, *, any_token: bool = False
    ) -> None:
        """Use the server's own check for introspection callers; ``any_token`` lets them
        introspect every client's tokens (resource servers), not only their own."""
        self.authenticate_client = authenticate
        self.any_client = any_token
        if self._runtime is not None:
            self._runtime.introspector.any_client = any_token

    def _authenticate(self, client_id: str, secret: str) -> bool:
        check = self.authenticate_client
        return bool(check is not None and check(client_id, secret))

    # -- what migrated code calls --------------------------------------------------------

    def authorization_server_metadata(
        self, legacy: Mapping[str, Any], *, s256: bool = True
    ) -> dict[str, Any]:
        """The legacy document plus the JWT members, built from its own ``issuer``; S256
        only with ``s256`` (the kit passes False where ``code_verifier`` is not checked)."""
        scopes = legacy.get("scopes_supported")
        if isinstance(scopes, list | tuple) and not self.scopes:
            self.scopes = tuple(str(s) for s in scopes)
        endpoint = legacy.get("token_endpoint")
        if isinstance(endpoint, str):
            self.token_endpoint = endpoint
        return augment_metadata(legacy, str(legacy.get("issuer", "")), s256=s256)

    def mint_access_token(
        self,
        subject: Any,
        client_id: Any,
        scope: Any = None,
        resource: Any = None,
        lifetime: int | None = None,
        legacy: Callable[[], Any] | None = None,
    ) -> Any:
        """A JWT; ``legacy`` is the hybrid code's former opaque mint, used only while no
        issuer is known (see the module's docstring)."""
        if legacy is not None and self._legacy_only(legacy):
            self._opaque_minted(client_id)
            return legacy()
        return self.runtime.mint_access_token(subject, client_id, scope, resource, lifetime)

    def resolve(self, token: str, legacy: Callable[[str], Any] | None = None, **kw: Any) -> Any:
        """The legacy record for ``token`` (see :meth:`TokenGate.resolve`)."""
        if legacy is not None and self._legacy_only(legacy):
            return legacy(token)
        return self.runtime.resolve(token, legacy, **kw)

    async def resolve_async(
        self, token: str, legacy: Callable[[str], Any] | None = None, **kw: Any
    ) -> Any:
        if legacy is not None and self._legacy_only(legacy):
            found = legacy(token)
            return await found if inspect.isawaitable(found) else found
        return await self.runtime.resolve_async(token, legacy, **kw)

    @staticmethod
    def request_lookup(use: Callable[..., Any], **resources: tuple[Any, Any]) -> Any:
        """A gate's lookup over request-scoped resources, each ``(the request's value, the
        dependency that opens one)``: out of the request it opens its own (:mod:`.resources`)."""
        from .resources import request_lookup

        return request_lookup(use, **resources)

    @staticmethod
    def row(columns: Mapping[str, Any]) -> Row:
        """A legacy database row rebuilt from claims, in the gate's SELECT order."""
        return Row(columns)

    def revoke(self, token: str) -> bool:
        """Feed the denylist; with no issuer in the hybrid phase nothing this process minted
        is a JWT, and the legacy delete beside this call revokes what the store holds."""
        if self._legacy_only(token):
            return False
        return self.runtime.revoke(token)

    def install_starlette(self, app: Any, issuer: str) -> OAuthMigration:
        from .starlette_adapter import install

        runtime = self.configure(issuer)
        install(app, runtime, self)
        return runtime

    def install_mcp(self, server: Any, issuer: str | None = None) -> OAuthMigration:
        """Serve the runtime from every app an MCP SDK or fastmcp server builds (see
        :mod:`.mcp_sdk`); the issuer, MCP path and scopes are read from ``server``."""
        from .mcp_sdk import install

        return install(server, self, issuer)

    def sdk_record(self, verified: VerifiedToken, cls: Any = None, /, **extra: Any) -> Any:
        """The SDK's ``AccessToken`` (or ``cls``, the server's own subclass, with ``extra``
        fields) built from a verified JWT, for the final phase's ``load_access_token``."""
        from .mcp_sdk import sdk_record

        return sdk_record(verified, cls, self.runtime.settings.accepted_audiences, extra)

    def install_flask(self, app: Any, issuer: str) -> OAuthMigration:
        from .flask_adapter import install

        runtime = self.configure(issuer)
        install(app, runtime, self)
        return runtime


def _lookup_of(runtime: OAuthMigration | None) -> Callable[[str], Any] | None:
    return runtime.gate.legacy_lookup if runtime is not None else None
