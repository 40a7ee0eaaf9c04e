"""Make the legacy delete paths revoke JWTs too, from `apply` on.

Changes: before each statement that deletes a token from the legacy store, one line
``oauth_migration.revoke(<the same key>)`` that puts a JWT's ``jti`` on the denylist
until the token's ``exp`` (kept in a file, so a restart does not undo it). `apply` adds
it, so every revocation of the hybrid period is on the denylist when `finalize` makes it
the only liveness check; `finalize` adds it where an older apply did not (a line already
there is not added twice).

Why it is safe: ``revoke`` verifies the token first and ignores anything that is not one
of our valid JWTs (opaque refresh tokens, expired tokens, forgeries), so a delete of
something else costs a shape check and changes nothing; the delete itself still runs.

Refuses: a delete that cannot name the access token it removes: a blocking manual step.
"""

from __future__ import annotations

from collections.abc import Callable

import libcst as cst

from migrate import runtime_api
from migrate.codemods.build import runtime_call, runtime_name
from migrate.codemods.edits import FileEdits
from migrate.codemods.spec import StepSpec
from migrate.scan.deletes import Delete, TokenStore, find_deletes
from migrate.scan.findings import ManualStep
from migrate.scan.record_writes import RecordWrite, record_class, token_field
from migrate.scan.source import SourceTree

STEP = StepSpec(
    "revoke-on-delete",
    "make the legacy delete paths revoke JWTs too (jti denylist)",
    phases=("hybrid", "final"),
    consumes=("delete",),
    edits_code=True,
)

GUIDE = "Manual steps: revocation"


def revoke_statement(key: cst.BaseExpression) -> cst.SimpleStatementLine:
    call = runtime_call(runtime_api.REVOKE, key)
    return cst.SimpleStatementLine([cst.Expr(call)])


def _already_revoked(delete: Delete) -> bool:
    """A revoke line right before the delete: a second finalize adds nothing."""
    block = delete.source.parent(delete.statement)
    body = list(getattr(block, "body", ()))
    index = next((i for i, s in enumerate(body) if s is delete.statement), 0)
    previous = body[index - 1] if index > 0 else None
    revoke = runtime_name(runtime_api.REVOKE) + "("
    return previous is not None and revoke in delete.source.code(previous)


def revoke_on_delete(deletes: list[Delete]) -> FileEdits:
    edits = FileEdits()
    for delete in deletes:
        if delete.key is None or _already_revoked(delete):
            continue
        line = revoke_statement(delete.key)
        edits.add(delete.statement, _inserting(line))
    return edits


def _before(line: cst.SimpleStatementLine, node: cst.CSTNode) -> cst.FlattenSentinel[cst.CSTNode]:
    """``line`` then ``node``; the comments and blank lines above ``node`` move above both."""
    leading = getattr(node, "leading_lines", ())
    moved = node.with_changes(leading_lines=()) if leading else node
    return cst.FlattenSentinel([line.with_changes(leading_lines=leading), moved])


def _inserting(
    line: cst.SimpleStatementLine,
) -> Callable[[cst.CSTNode], cst.CSTNode | cst.FlattenSentinel[cst.CSTNode]]:
    return lambda node: _before(line, node)


def token_store(writes: list[RecordWrite]) -> TokenStore:
    """The token field and record class of the first mint's record write, when found, and
    every store a mint's record is written into (whatever its name)."""
    if not writes:
        return TokenStore()
    stores = frozenset(w.store for w in writes if w.store)
    return TokenStore(token_field(writes[0]), record_class(writes[0]), stores)


def plan_revocations(
    tree: SourceTree, store: TokenStore
) -> tuple[list[Delete], dict[str, FileEdits], list[ManualStep]]:
    """Every delete found, the ``revoke()`` lines per file, and one blocking manual step
    per delete that cannot name its access token."""
    deletes = find_deletes(tree, store)
    manual = [
        ManualStep(
            d.where,
            d.detail,
            "before this delete, call `oauth_migration.revoke(<the access token>)` for "
            "the access token it removes (or rewrite it so the token is a parameter)",
            GUIDE,
            blocks_apply=True,
        )
        for d in deletes
        if d.key is None
    ]
    by_file: dict[str, FileEdits] = {}
    for rel in sorted({d.source.rel for d in deletes}):
        edits = revoke_on_delete([d for d in deletes if d.source.rel == rel])
        if edits.edits:
            by_file[rel] = edits
    return deletes, by_file, manual
