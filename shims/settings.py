"""The runtime's settings: what the migrated code passes, and what the environment overrides.

The codemod writes the issuer and resource expressions it found in the legacy code; the
environment may override the key location, metrics file, token lifetime and the shared
denylist (``OAUTH_MIGRATE_REDIS_URL``) so several replicas on several hosts share one key
and see each other's revocations without a code change.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from .gate import Mode
from .policy import DEFAULT_LIFETIME, JWKS_MAX_AGE

ENV_METRICS = "OAUTH_MIGRATE_METRICS"
ENV_LIFETIME = "OAUTH_MIGRATE_TOKEN_LIFETIME"
ENV_METRICS_ROUTE = "OAUTH_MIGRATE_METRICS_ROUTE"
# A Redis URL: the jti denylist is shared through it by every replica (several hosts).
ENV_REDIS_URL = "OAUTH_MIGRATE_REDIS_URL"


@dataclass(frozen=True)
class Settings:
    issuer: str
    resource: str
    audiences: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    mode: Mode = "hybrid"
    lifetime: int = DEFAULT_LIFETIME
    leeway: float = 30.0
    key_folder: str | None = None
    metrics_path: str | None = None
    denylist_path: str | None = None
    redis_url: str | None = None
    metrics_route: bool = False
    jwks_max_age: int = JWKS_MAX_AGE
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ, repr=False)

    def __post_init__(self) -> None:
        if not self.issuer or not self.resource:
            raise ValueError("the issuer and the resource must be set")

    @property
    def accepted_audiences(self) -> tuple[str, ...]:
        """The resource and this server's base URL: clients ask for either as the RFC 8707
        ``resource`` (the mint writes them without a final slash)."""
        if self.audiences:
            return self.audiences
        return tuple(dict.fromkeys((self.resource.rstrip("/"), self.issuer.rstrip("/"))))

    def with_environment(self) -> Settings:
        """These settings, overridden by ``OAUTH_MIGRATE_*`` variables where set."""
        env = self.environ
        lifetime = env.get(ENV_LIFETIME)
        return replace(
            self,
            lifetime=int(lifetime) if lifetime else self.lifetime,
            metrics_path=env.get(ENV_METRICS, self.metrics_path),
            redis_url=env.get(ENV_REDIS_URL) or self.redis_url,
            metrics_route=env.get(ENV_METRICS_ROUTE, "") == "1" or self.metrics_route,
        )
