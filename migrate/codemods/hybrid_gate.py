"""Put the hybrid gate where the legacy gate looked its bearer token up.

Changes: ``record = <lookup>`` becomes
``record = oauth_migration.resolve(<token>, legacy=lambda t: <lookup with t>)``
(``await oauth_migration.resolve_async(...)`` for an awaited lookup or a coroutine gate
such as an SDK provider's ``load_access_token``; ``unknown=KeyError``
where the legacy code catches a ``KeyError``). A two-statement SQL lookup
(``cur = db.execute(...)``; ``row = cur.fetchone()``) becomes one such call, keeping
the cursor line's comments. ``return <lookup>`` keeps its ``return``; a lookup by a
digest of the token (``sha256(token)``) gets the digest inside the lambda. A lookup
reading a resource a generator dependency opens per request (``db: Annotated[Connection,
Depends(get_db)]``) becomes ``oauth_migration.request_lookup(lambda t, db: <lookup>,
db=(db, get_db))``: the request's connection in the request, its own one outside it.

Why it is safe: opaque tokens still go through the very lookup the legacy code ran, with
the same cleaned-up token. A JWT is verified first (RS256 pinned, RFC 9068 claims) and
then looked up too, since the unchanged mint code stores every token it issues: deleting
it (refresh rotation, ``/revoke``) still revokes it, and the record the rest of the gate
reads is the legacy record. A JWT that fails verification gets the legacy answer for an
unknown token and is never looked up. The lookup is a one-argument function, so the
runtime can reuse it to introspect opaque tokens.

Refuses: a gate whose lookup it cannot isolate (reported as a manual step); a gate that
already calls the runtime.
"""

from __future__ import annotations

import libcst as cst

from migrate import runtime_api
from migrate.codemods.build import keyword, runtime_call
from migrate.codemods.edits import FileEdits
from migrate.codemods.spec import StepSpec
from migrate.scan.gates import BearerGate, Lookup
from migrate.scan.syntax import names_in

STEP = StepSpec(
    "hybrid-gate",
    "accept JWTs and opaque tokens at the bearer gate",
    phases=("hybrid",),
    consumes=("gate",),
    edits_code=True,
)


class _Substitute(cst.CSTTransformer):
    """The token argument becomes the lambda's parameter; accessor locals their values."""

    def __init__(
        self, target: cst.CSTNode, name: str, accessors: dict[str, cst.BaseExpression]
    ) -> None:
        self.target = target
        self.name = name
        self.accessors = accessors
        self.attribute_names: set[int] = set()

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        # In ``db.execute`` only ``db`` is a variable.
        self.attribute_names.add(id(node.attr))
        return True

    def visit_Arg(self, node: cst.Arg) -> bool:
        # Nor is the keyword in ``find(token, db=db)``.
        if node.keyword is not None:
            self.attribute_names.add(id(node.keyword))
        return True

    def on_leave(  # type: ignore[override]  # libcst's generic signature, narrowed
        self, original_node: cst.CSTNode, updated_node: cst.CSTNode
    ) -> cst.CSTNode:
        if original_node is self.target:
            return cst.Name(self.name)
        if (
            isinstance(original_node, cst.Name)
            and original_node.value in self.accessors
            and id(original_node) not in self.attribute_names
        ):
            return self.accessors[original_node.value]
        return updated_node


def _parameter_name(lookup: Lookup) -> str:
    taken = names_in(lookup.expression)
    return next(n for n in ("t", "tok", "_token") if n not in taken)


def resolve_call(lookup: Lookup) -> cst.BaseExpression:
    param = _parameter_name(lookup)
    body = lookup.expression.visit(_Substitute(lookup.argument, param, lookup.accessors))
    assert isinstance(body, cst.BaseExpression)
    legacy: cst.BaseExpression = cst.Lambda(cst.Parameters([cst.Param(cst.Name(param))]), body)
    if lookup.dependencies:
        legacy = _request_lookup(param, body, lookup.dependencies)
    args = [cst.Arg(lookup.argument), keyword("legacy", legacy)]
    if lookup.raises:
        args.append(keyword("unknown", cst.Name(lookup.raises)))
    awaited = lookup.awaited or lookup.asynchronous
    method = runtime_api.RESOLVE_ASYNC if awaited else runtime_api.RESOLVE
    call = runtime_call(method, *args)
    return cst.Await(call) if awaited else call


def _request_lookup(
    param: str, body: cst.BaseExpression, dependencies: dict[str, cst.BaseExpression]
) -> cst.Call:
    """``oauth_migration.request_lookup(lambda t, db: <lookup>, db=(db, get_db))``: the
    request's resource in the request, one the lookup opens itself outside it (the gate
    keeps this lookup for introspection, after the request closed its resource)."""
    names = sorted(dependencies)
    params = [cst.Param(cst.Name(n)) for n in [param, *names]]
    resources = [
        keyword(n, cst.Tuple([cst.Element(cst.Name(n)), cst.Element(dependencies[n])]))
        for n in names
    ]
    use = cst.Lambda(cst.Parameters(params), body)
    return runtime_call(runtime_api.REQUEST_LOOKUP, use, *resources)


def _assigned_value(statement: cst.SimpleStatementLine) -> cst.BaseExpression:
    """The lookup's value: assigned (``record = ...``) or returned (``return ...``)."""
    small = statement.body[0]
    assert isinstance(small, cst.Assign | cst.AnnAssign | cst.Return) and small.value is not None
    return small.value


def hybrid_gate(gate: BearerGate) -> FileEdits:
    edits = FileEdits()
    lookup = gate.lookup
    if gate.migrated or lookup is None:
        return edits
    new_value = resolve_call(lookup)
    edits.add(_assigned_value(lookup.statement), lambda node: new_value)
    if lookup.cursor is not None:
        comments = _comments(lookup.cursor)
        edits.add(lookup.cursor, lambda node: cst.RemoveFromParent())
        edits.add(lookup.statement, lambda node: _with_leading(node, comments))
    return edits


def _comments(statement: cst.SimpleStatementLine) -> list[cst.EmptyLine]:
    """The lines above a removed statement and its end-of-line comment, kept as lines."""
    lines = list(statement.leading_lines)
    comment = statement.trailing_whitespace.comment
    if comment is not None:
        lines.append(cst.EmptyLine(comment=comment))
    return lines


def _with_leading(node: cst.CSTNode, lines: list[cst.EmptyLine]) -> cst.CSTNode:
    assert isinstance(node, cst.SimpleStatementLine)
    return node.with_changes(leading_lines=[*lines, *node.leading_lines])
