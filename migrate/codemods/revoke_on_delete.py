"""Make the legacy delete paths revoke JWTs too, for the final phase.

Changes: before each statement that deletes a token from the legacy store, one line
``oauth_migration.revoke(<the same key>)`` that puts a JWT's ``jti`` on the denylist
until the token's ``exp`` (kept in a file, so a restart does not undo it).

Why it is safe: ``revoke`` verifies the token first and ignores anything that is not one
of our valid JWTs (opaque refresh tokens, expired tokens, forgeries), so a delete of
something else costs a shape check and changes nothing; the delete itself still runs.

Refuses: a delete that cannot name the access token it removes (reported as manual).
"""

from __future__ import annotations

from collections.abc import Callable

import libcst as cst

from migrate.codemods import RUNTIME_NAME
from migrate.codemods.edits import FileEdits
from migrate.scan.deletes import Delete


def revoke_statement(key: cst.BaseExpression) -> cst.SimpleStatementLine:
    call = cst.Call(cst.Attribute(cst.Name(RUNTIME_NAME), cst.Name("revoke")), [cst.Arg(key)])
    return cst.SimpleStatementLine([cst.Expr(call)])


def _already_revoked(delete: Delete) -> bool:
    """A revoke line right before the delete: a second finalize adds nothing."""
    block = delete.source.parent(delete.statement)
    body = list(getattr(block, "body", ()))
    index = next((i for i, s in enumerate(body) if s is delete.statement), 0)
    previous = body[index - 1] if index > 0 else None
    return previous is not None and f"{RUNTIME_NAME}.revoke(" in delete.source.code(previous)


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
