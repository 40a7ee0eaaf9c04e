"""Pass the RFC 8414 metadata document through the runtime before it is served.

Changes: the finished metadata expression ``X`` becomes
``oauth_migration.authorization_server_metadata(X)``, which adds ``jwks_uri``,
``introspection_endpoint``, ``introspection_endpoint_auth_methods_supported`` and S256
(RFC 8414 §2, RFC 7662 §4), each only when absent.

Why it is safe: the wrapped value is the same dict plus members; ``issuer`` and every
member the legacy code wrote are left as they were, and the new URLs are built from that
very ``issuer``, so they match what clients already see.

Refuses: a metadata dict that is not returned, passed to a response or bound to a module
constant (the finder reports it as a manual step); an already wrapped document.
"""

from __future__ import annotations

import libcst as cst

from migrate import runtime_api
from migrate.codemods.build import runtime_call
from migrate.codemods.edits import FileEdits
from migrate.codemods.spec import StepSpec
from migrate.scan.metadata import MetadataProducer

STEP = StepSpec(
    "wrap-metadata",
    "add jwks_uri, introspection_endpoint and S256 to the RFC 8414 metadata",
    phases=("hybrid",),
    consumes=("metadata",),
    edits_code=True,
)

METHOD = runtime_api.METADATA


def _wrap(node: cst.CSTNode) -> cst.CSTNode:
    assert isinstance(node, cst.BaseExpression)
    return runtime_call(METHOD, node)


def wrap_metadata(producer: MetadataProducer) -> FileEdits:
    edits = FileEdits()
    if not producer.migrated:
        for expression in producer.wrap:
            edits.add(expression, _wrap)
    return edits
