"""The runtime that `migrate apply` copies into a migrated server.

It depends only on pyjwt and cryptography (prometheus_client optional; Starlette or Flask
only through the adapter the server imports). Modules import one another relatively, so
the package works under whatever name it is copied as.
"""

from __future__ import annotations

from .deferred import DeferredMigration, NotConfigured
from .denylist import Denylist
from .discovery import (
    augment_metadata,
    challenge_401,
    challenge_403,
    challenge_missing,
    fix_challenge,
    metadata_additions,
    prm_paths,
    prm_url,
    protected_resource_metadata,
)
from .gate import TokenGate, field_of
from .introspection import Introspector, Reply, describe_legacy_record, static_clients
from .keys import KeyFolder, KeyProblem, KeyRing, KeysUnavailable, SigningKey, thumbprint
from .mcp_sdk import NotAnSdkServer, ServerFacts, sdk_record, server_facts
from .metrics import Metrics
from .minting import MintedToken, TokenMinter, scope_string
from .records import ClaimRecord, record_factory
from .runtime import OAuthMigration
from .settings import Settings
from .verifier import JwtVerifier, TokenRejected, VerifiedToken, looks_like_jwt

__all__ = [
    "ClaimRecord",
    "DeferredMigration",
    "Denylist",
    "Introspector",
    "JwtVerifier",
    "KeyFolder",
    "KeyProblem",
    "KeyRing",
    "KeysUnavailable",
    "Metrics",
    "NotAnSdkServer",
    "MintedToken",
    "NotConfigured",
    "OAuthMigration",
    "Reply",
    "ServerFacts",
    "Settings",
    "SigningKey",
    "TokenGate",
    "TokenMinter",
    "TokenRejected",
    "VerifiedToken",
    "augment_metadata",
    "challenge_401",
    "challenge_403",
    "challenge_missing",
    "fix_challenge",
    "describe_legacy_record",
    "field_of",
    "looks_like_jwt",
    "metadata_additions",
    "prm_paths",
    "prm_url",
    "protected_resource_metadata",
    "record_factory",
    "scope_string",
    "sdk_record",
    "server_facts",
    "static_clients",
    "thumbprint",
]
