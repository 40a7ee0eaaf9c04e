"""Refill, from the verified claims, the side stores the mint keys by the access token.

Changes (beside the final gate's rewrite of the same resolve): where the mint also
writes ``<store>[token] = <value>`` beside its record (see
:mod:`migrate.scan.side_stores`), the final resolve's ``record=lambda c: <record>``
becomes a small function defined just above it::

    def _record_from_claims(c):
        self.owners[c.token] = c.sub
        return <record>

    found = await oauth_migration.resolve_async(token, record=_record_from_claims)

each value mapped to its claim as the record's fields are (the final gate's
``claim_value``: the mint's subject is ``c.sub``, its client ``c.client_id``, ...).

Why it is safe: the runtime calls ``record`` only for a JWT it verified, that is not on
the denylist and not expired, so an entry is written only for a token the gate accepts at
that moment, with the value the mint wrote for it; the legacy delete paths revoke the JWT
as they drop its entries (``revoke_on_delete``), so a dropped token is not accepted again
and its entry is not written again.
Without it an in-memory server loses the entries at every restart while its JWTs stay
valid, and whatever reads them (a tool asking ``owners.get(token)``) fails.

Refuses (a blocking manual step naming the read), only when the tree reads the store: a
value no claim gives (``self.labels[token] = request.headers["x-label"]``), or a store the
gate cannot reach (``self.x`` of another class, a name of another module).
"""

from __future__ import annotations

import libcst as cst

from migrate.codemods.edits import Replacement
from migrate.codemods.spec import StepSpec
from migrate.scan.findings import ManualStep
from migrate.scan.side_stores import SideStore, reads_of, same_scope
from migrate.scan.source import SourceFile, SourceTree

STEP = StepSpec(
    "refill-stores",
    "refill what the mint keeps beside each access token from the claims",
    phases=("final",),
    consumes=("gate",),
    edits_code=True,
)

BUILDER = "_record_from_claims"
COMMENTS = (
    "# Kept by the mint beside the token; a restart empties it while",
    "# the JWT stays valid: refilled from the verified claims.",
)

Refill = tuple[cst.BaseExpression, cst.BaseExpression]  # (store, value from the claims)


def _unmapped(store: SideStore, value: cst.BaseExpression) -> bool:
    none = isinstance(value, cst.Name) and value.value == "None"
    given = isinstance(store.value, cst.Name) and store.value.value == "None"
    return none and not given


def plan_refills(
    tree: SourceTree | None,
    source: SourceFile,
    call: cst.Call,
    stores: list[tuple[SideStore, cst.BaseExpression]],
    *,
    reachable: bool = True,
) -> tuple[list[Refill], list[ManualStep]]:
    """What the final resolve ``call`` refills, and a blocking step for each side store it
    cannot refill that the tree reads. ``stores``: each with its value from the claims;
    ``reachable``: False when no function can be defined before the resolve."""
    refills: list[Refill] = []
    manual: list[ManualStep] = []
    for store, value in stores:
        here = reachable and same_scope(store, source, call)
        if here and not _unmapped(store, value):
            refills.append((store.store, value))
            continue
        reads = reads_of(tree, store) if tree is not None else []
        why = "no JWT claim gives its value" if here else "the gate cannot reach it"
        manual += [_cannot(store, read, why) for read in reads]
    return refills, manual


def _cannot(store: SideStore, read: str, why: str) -> ManualStep:
    return ManualStep(
        read,
        f"a read of `{store.code}`, which the mint fills by access token ({store.where}) "
        f"and a restart empties; {why}",
        f"read the value from the verified token's claims instead of `{store.code}` (or "
        "pass `record=` a function that refills it), then finalize again",
        "Manual steps: finalize",
        blocks_apply=True,
    )


def builder_function(refills: list[Refill], record: cst.BaseExpression) -> cst.FunctionDef:
    """``def _record_from_claims(c):`` writing each refill, then returning ``record``."""
    lines: list[cst.BaseStatement] = []
    token = cst.Attribute(cst.Name("c"), cst.Name("token"))
    for store, value in refills:
        target = cst.Subscript(store, [cst.SubscriptElement(cst.Index(token))])
        lines.append(cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(target)], value)]))
    comments = [cst.EmptyLine(comment=cst.Comment(text)) for text in COMMENTS]
    lines[0] = lines[0].with_changes(leading_lines=comments)
    lines.append(cst.SimpleStatementLine([cst.Return(record)]))
    return cst.FunctionDef(
        cst.Name(BUILDER), cst.Parameters([cst.Param(cst.Name("c"))]), cst.IndentedBlock(lines)
    )


def statement_of(source: SourceFile, call: cst.Call) -> cst.BaseStatement | None:
    """The statement holding ``call``, when a function can be defined just before it: one
    directly in a block (not an ``elif``, whose test sits inside another ``if``)."""
    node: cst.CSTNode | None = call
    while node is not None and not isinstance(node, cst.BaseStatement):
        node = source.parent(node)
    if node is None:
        return None
    parent = source.parent(node)
    return node if isinstance(parent, cst.IndentedBlock | cst.Module) else None


def before_statement(function: cst.FunctionDef) -> Replacement:
    """An edit for the statement holding the resolve: the builder, then the statement
    (its leading comments move above the builder, where they were)."""

    def replace(statement: cst.CSTNode) -> cst.FlattenSentinel[cst.CSTNode]:
        assert isinstance(statement, cst.SimpleStatementLine | cst.BaseCompoundStatement)
        moved = function.with_changes(leading_lines=statement.leading_lines)
        return cst.FlattenSentinel([moved, statement.with_changes(leading_lines=())])

    return replace
