"""Pass the RFC 8414 metadata document through the runtime before it is served.

Changes: the finished metadata expression ``X`` becomes
``oauth_migration.authorization_server_metadata(X)``, which adds ``jwks_uri``,
``introspection_endpoint``, ``introspection_endpoint_auth_methods_supported`` and S256
(RFC 8414 §2, RFC 7662 §4), each only when absent. Where the token endpoint does not
verify ``code_verifier`` (:mod:`migrate.scan.pkce`) the call passes ``s256=False``: S256
is then left out, since advertising PKCE that is not enforced would tell clients their
code is protected when it is not (the plan says so in a manual step).

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


def _wrap_without_s256(node: cst.CSTNode) -> cst.CSTNode:
    assert isinstance(node, cst.BaseExpression)
    tight = cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))
    keyword = cst.Arg(cst.Name("False"), keyword=cst.Name(runtime_api.METADATA_S256), equal=tight)
    return runtime_call(METHOD, node, keyword)


def wrap_metadata(producer: MetadataProducer, *, s256: bool = True) -> FileEdits:
    """``s256``: the token endpoint verifies ``code_verifier``, so S256 may be advertised."""
    edits = FileEdits()
    if not producer.migrated:
        for expression in producer.wrap:
            edits.add(expression, _wrap if s256 else _wrap_without_s256)
    return edits
