"""One object per server that ties keys, minting, the gate, introspection and metrics.

The migrated server builds it once, next to its legacy token store::

    migration = OAuthMigration(Settings(issuer=..., resource=...),
                               legacy_lookup=store.get, authenticate_client=check_client)

and then calls ``migration.mint_access_token(...)`` where it minted opaque tokens,
``migration.resolve(token, legacy=...)`` where it looked tokens up, and mounts the
framework adapter's routes (JWKS, introspection, protected-resource metadata).

Keys are read at start-up; when they cannot be, requests that need them answer 503 (the
adapters map :class:`KeysUnavailable`), never 401, so an operator sees a configuration
error rather than clients being logged out. A key rotation done with ``migrate keys`` is
picked up without a restart: the key folder is checked again at most every
``KEY_RECHECK_SECONDS`` when a token names an unknown ``kid`` or a token is minted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from . import fleet
from .discovery import augment_metadata, challenge_401, prm_url, protected_resource_metadata
from .gate import TokenGate
from .introspection import (
    ClientAuthenticator,
    Introspector,
    LegacyDescriber,
    dead_record,
    describe_legacy_record,
)
from .keys import MANIFEST, KeyProblem, KeyRing, KeysUnavailable
from .metrics import Metrics
from .minting import TokenMinter
from .redis_denylist import RedisDenylist, denylist_for
from .settings import Settings
from .verifier import JwtVerifier, TokenRejected, VerifiedToken, looks_like_jwt

log = logging.getLogger("oauth_migration")

KEY_RECHECK_SECONDS = 30.0


def _refuse_all(client_id: str, secret: str) -> bool:
    return False


class OAuthMigration:
    """The runtime of a migrated server, in the ``hybrid`` or the ``final`` phase."""

    def __init__(
        self,
        settings: Settings,
        *,
        legacy_lookup: Callable[[str], Any] | None = None,
        to_record: Callable[[VerifiedToken], Any] | None = None,
        unknown: Any = None,
        describe_legacy: LegacyDescriber = describe_legacy_record,
        authenticate_client: ClientAuthenticator = _refuse_all,
        legacy_client_id: Callable[[Any], str | None] | None = None,
        keyring: KeyRing | None = None,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings = settings.with_environment()
        self.clock = clock
        self._key_lock = threading.Lock()
        self._keys_checked = clock()
        self._keys_stamp = self._manifest_stamp()
        self._key_error: str | None = None
        ring = keyring if keyring is not None else self._load_keys()
        self.metrics = metrics if metrics is not None else Metrics(settings.metrics_path)
        denylist = denylist_for(settings, clock)
        if metrics is None:
            self.metrics.extra_families.append(fleet.families(settings.mode, denylist))
        if settings.metrics_path:
            self.metrics.start()
        self.verifier = JwtVerifier(
            ring,
            issuer=settings.issuer,
            audiences=settings.accepted_audiences,
            leeway=settings.leeway,
            clock=clock,
            reload_keys=self.reload_keys,
        )
        self.gate: TokenGate[Any] = TokenGate(
            self.verifier,
            mode=settings.mode,
            to_record=to_record,
            legacy_lookup=legacy_lookup,
            unknown=unknown,
            denylist=denylist,
            metrics=self.metrics,
            legacy_client_id=legacy_client_id,
        )
        self.minter = TokenMinter(
            self.keys,
            issuer=settings.issuer,
            default_audience=settings.resource.rstrip("/"),
            lifetime=settings.lifetime,
            clock=clock,
        )
        self.introspector = Introspector(
            self.gate,
            authenticate_client,
            issuer=settings.issuer,
            resource=settings.resource,
            describe_legacy=describe_legacy,
        )

    # -- what the migrated code calls ----------------------------------------------------

    def mint_access_token(
        self,
        subject: Any,
        client_id: Any,
        scope: Any = None,
        resource: Any = None,
        lifetime: int | None = None,
    ) -> str:
        """A signed RFC 9068 access token; raises KeysUnavailable without a signing key."""
        for name, value in (("subject", subject), ("client_id", client_id)):
            # Anything else would be str()-ed into a claim every holder of the token reads.
            if not isinstance(value, str | int) or isinstance(value, bool):
                raise TypeError(f"{name} must be a string or an integer, not {type(value)}")
        self._maybe_recheck_keys()
        minted = self.minter.mint(
            subject=str(subject),
            client_id=str(client_id),
            scope=scope,
            audience=self._audience(resource),
            lifetime=lifetime,
        )
        self.metrics.jwt_minted(str(client_id))
        return minted.token

    def _audience(self, resource: Any) -> Any:
        """This server's resource in any spelling (a final slash) becomes the canonical one,
        so the token the client asked for works here; another resource is kept as asked."""
        if isinstance(resource, str) and resource:
            trimmed = resource.rstrip("/")
            if trimmed in self.settings.accepted_audiences:
                return trimmed
        return resource or None

    def resolve(self, token: str, legacy: Callable[[str], Any] | None = None, **kw: Any) -> Any:
        self._require_keys_for(token)
        return self.gate.resolve(token, legacy, **kw)

    def bearer_record(self, token: str) -> Any:
        """The record for a bearer token, or None when it is refused (for the adapters).

        Whatever the legacy code answers for an unknown token (``None``, the configured
        ``unknown`` such as ``False``, or a raise such as ``KeyError`` from ``TOKENS[token]``)
        comes out as None, so a guard cannot take a rejection for a record; so does a
        record marked revoked. Raises KeysUnavailable when the keys cannot be loaded.
        """
        try:
            record = self.resolve(token)
        except Exception as exc:
            return self._refused(exc)
        return self._guarded(record)

    async def bearer_record_async(self, token: str) -> Any:
        """As :meth:`bearer_record`, awaiting the legacy lookup when it is async (the
        Starlette guard): the synchronous gate refuses an async lookup's tokens."""
        try:
            record = await self.resolve_async(token)
        except Exception as exc:
            return self._refused(exc)
        return self._guarded(record)

    def _guarded(self, record: Any) -> Any:
        """A guard has no legacy checks after it: a record the legacy gate would refuse
        (a true ``revoked`` flag, a refresh token's record) is a refusal too."""
        if record is self.gate.unknown or dead_record(record):
            return None
        return record

    def _refused(self, exc: Exception) -> None:
        """None for the legacy code's "unknown token" raise; anything else goes on up."""
        unknown = self.gate.unknown
        if isinstance(exc, KeysUnavailable):
            raise exc
        if isinstance(exc, LookupError):
            return None
        if exc is unknown or (isinstance(unknown, type) and isinstance(exc, unknown)):
            return None
        raise exc

    async def resolve_async(
        self, token: str, legacy: Callable[[str], Any] | None = None, **kw: Any
    ) -> Any:
        self._require_keys_for(token)
        return await self.gate.resolve_async(token, legacy, **kw)

    def revoke(self, token: str) -> bool:
        """Feed the ``jti`` denylist from a legacy delete path; False for opaque tokens.

        While a shared denylist fails closed (Redis out of reach past the bound) the gate
        takes every JWT for revoked; the revocation is recorded all the same, so it reaches
        the other replicas when Redis is back."""
        if self.gate.revoke(token):
            return True
        denylist = self.gate.denylist
        if not isinstance(denylist, RedisDenylist) or not denylist.failing_closed:
            return False
        try:
            verified = self.verifier.verify(token)
        except TokenRejected:
            return False
        denylist.add(verified.jti, verified.exp + self.verifier.leeway)
        return True

    def authorization_server_metadata(
        self, legacy: Mapping[str, Any], *, s256: bool = True
    ) -> dict[str, Any]:
        return augment_metadata(legacy, self.settings.issuer, s256=s256)

    def protected_resource_metadata(self) -> dict[str, Any]:
        s = self.settings
        return protected_resource_metadata(s.resource, s.issuer, s.scopes)

    @property
    def resource_metadata_url(self) -> str:
        return prm_url(self.settings.resource)

    def www_authenticate(self, description: str | None = None) -> str:
        return challenge_401(self.resource_metadata_url, description)

    def jwks(self) -> dict[str, Any]:
        return self.keys().jwks()

    # -- keys ----------------------------------------------------------------------------

    def keys(self) -> KeyRing:
        self._require_keys()
        return self.verifier.keyring

    def reload_keys(self) -> bool:
        """Re-read the key folder if its manifest changed; True when the ring changed."""
        with self._key_lock:
            now = self.clock()
            # While keys are broken, retry sooner, but still not on every request.
            pause = KEY_RECHECK_SECONDS if self._key_error is None else 1.0
            if now - self._keys_checked < pause:
                return False
            self._keys_checked = now
            stamp = self._manifest_stamp()
            if stamp == self._keys_stamp and self._key_error is None:
                return False
            ring = self._load_keys()
            if self._key_error is not None:
                return False
            self._keys_stamp = stamp
            self.gate.use_keyring(ring)
            return True

    def _maybe_recheck_keys(self) -> None:
        if self.clock() - self._keys_checked >= KEY_RECHECK_SECONDS:
            self.reload_keys()

    def _require_keys_for(self, token: str) -> None:
        """Keys are needed for JWTs only: a missing key must not stop opaque tokens in the
        hybrid phase (a deploy from git ships no key file)."""
        if self._key_error is not None and (self.settings.mode == "final" or looks_like_jwt(token)):
            self._require_keys()

    def _require_keys(self) -> None:
        if self._key_error is not None and not self.reload_keys():
            raise KeysUnavailable(self._key_error)

    def _load_keys(self) -> KeyRing:
        try:
            ring = KeyRing.from_env(self.settings.environ, default_folder=self.settings.key_folder)
        except KeyProblem as problem:
            self._key_error = str(problem)
            log.error("signing keys unavailable: %s", problem)
            return KeyRing(())
        self._key_error = None
        return ring

    def _manifest_stamp(self) -> float | None:
        folder = self.settings.key_folder
        env_folder = self.settings.environ.get("OAUTH_MIGRATE_KEYS_DIR")
        chosen = env_folder or folder
        if not chosen:
            return None
        try:
            return (Path(chosen) / MANIFEST).stat().st_mtime
        except OSError:
            return None
