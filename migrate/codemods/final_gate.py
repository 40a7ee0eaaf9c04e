"""Turn the hybrid gate into the JWT-only gate: the record comes from the claims.

Changes: ``oauth_migration.resolve(token, legacy=lambda t: <lookup>)`` becomes
``oauth_migration.resolve(token, record=lambda c: <the legacy record>)``, where the record
is rebuilt the way the mint code writes it (same class or dict, same field names), each
field read from the verified token ``c``: ``c.token``, ``c.sub``, ``c.client_id``,
``c.scope`` / ``c.scopes``, ``c.aud``, ``c.exp`` / ``c.exp_iso`` / ``c.exp_datetime``
(typed like the legacy write), literals kept, other fields ``None``.

Why it is safe: in the final phase the runtime accepts only JWTs it verified; the rest of
the gate reads the same fields with the same types it read from the legacy store, and the
lambda sits in the code where a person can read and adjust it. The legacy lookup is
gone, so a restart that empties an in-memory store leaves every unexpired JWT valid;
revocation goes through the ``jti`` denylist (see ``revoke_on_delete``).

Every field the gate reads from its record (``row["revoked"]``, ``record.user_id``,
``getattr(r, "scope")``) is supplied: from the write, else by its name (``revoked`` ->
``False``, ``revoked_at`` -> ``None``, ``user_id`` -> ``c.sub``, ``expires_at`` ->
``c.exp``, ``client_id``, ``scope`` ...). A read that can be supplied neither way would
make the final gate raise on every JWT: it is returned as a blocking manual step naming
the read, and finalize writes nothing.

Refuses: a gate whose mint wrote no record it could read (a manual step).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

import libcst as cst

from migrate import runtime_api
from migrate.codemods import refill_stores
from migrate.codemods.build import keyword, runtime_call, runtime_name
from migrate.codemods.edits import FileEdits
from migrate.codemods.spec import StepSpec
from migrate.scan.findings import ManualStep
from migrate.scan.record_classes import class_fields
from migrate.scan.record_writes import Field, RecordWrite, table_columns
from migrate.scan.side_stores import find_side_stores
from migrate.scan.source import SourceFile, SourceTree
from migrate.scan.sql import select_columns
from migrate.scan.syntax import (
    dotted,
    enclosing_function,
    imported_names,
    qualified,
    string_value,
    walk,
)

RESOLVES = (runtime_name(runtime_api.RESOLVE), runtime_name(runtime_api.RESOLVE_ASYNC))

STEP = StepSpec(
    "final-gate",
    "accept JWTs only; rebuild the legacy record from the claims",
    phases=("final",),
    consumes=("gate",),
    edits_code=True,
)

# ``access_expires_at`` too (a record holding both tokens), never ``refresh_expires_at``.
_ACCESS = r"^((access|access_token|token)_)?"
EXPIRY = re.compile(
    _ACCESS + r"(exp|expires?(_at|_on)?|expiry|expiration|valid_until|not_after)$", re.I
)
ISSUED = re.compile(_ACCESS + r"(iat|issued(_at)?|created(_at)?)$", re.I)
ROLE_ACCESSORS = {"subject": "sub", "client_id": "client_id", "resource": "aud"}


def find_hybrid_resolves(source: SourceFile) -> list[cst.Call]:
    """``oauth_migration.resolve[_async](..., legacy=...)`` calls in one file."""
    found = []
    for node in walk(source.module):
        if (
            isinstance(node, cst.Call)
            and dotted(node.func) in RESOLVES
            and any(a.keyword is not None and a.keyword.value == "legacy" for a in node.args)
        ):
            found.append(node)
    return found


def _code(node: cst.CSTNode) -> str:
    return cst.Module([]).code_for_node(node)


def _time_shape(value: cst.BaseExpression, source: SourceFile) -> str:
    """``iso``/``datetime`` (``_naive`` unless UTC-aware) or ``epoch``, from the write."""
    text = _code(value) + _called_helper_text(value, source) + _assigned_text(value, source)
    aware = "utc" in text.lower() or "timezone" in text
    suffix = "" if aware else "_naive"
    if "isoformat" in text:
        return "iso" + suffix
    if "timedelta" in text or "datetime" in text:
        return "datetime" + suffix
    return "epoch"


def _assigned_text(value: cst.BaseExpression, source: SourceFile) -> str:
    """What a local the write stores was assigned (``until = datetime.now(utc) + ttl``):
    without it a datetime kept in a variable would come back as epoch seconds."""
    function = enclosing_function(source, value) if isinstance(value, cst.Name) else None
    if function is None or not isinstance(value, cst.Name):
        return ""
    for node in walk(function.body):
        if isinstance(node, cst.Assign) and any(
            isinstance(t.target, cst.Name) and t.target.value == value.value for t in node.targets
        ):
            return _code(node.value)
    return ""


def _called_helper_text(value: cst.BaseExpression, source: SourceFile) -> str:
    """The body of a module-level helper the write calls (``_ts(ttl)``), one level deep."""
    if not isinstance(value, cst.Call) or not isinstance(value.func, cst.Name):
        return ""
    for statement in source.module.body:
        if isinstance(statement, cst.FunctionDef) and statement.name.value == value.func.value:
            return _code(statement.body)
    return ""


def _accessor(name: str) -> cst.BaseExpression:
    return cst.Attribute(cst.Name("c"), cst.Name(name))


def claim_value(field: Field, write: RecordWrite) -> cst.BaseExpression:
    """What the final gate puts in one field of the legacy record."""
    code = _code(field.value)
    if (write.mint_variable and code == write.mint_variable) or runtime_api.MINT in code:
        return _accessor("token")
    for role, accessor in ROLE_ACCESSORS.items():
        if write.mint_arguments.get(role) == code:
            return _accessor(accessor)
    if write.mint_arguments.get("scope") == code:
        plural = (field.name or "").endswith("s") or code.endswith("s")
        return _accessor("scopes" if plural else "scope")
    name = field.name or ""
    for pattern, claim in ((EXPIRY, "exp"), (ISSUED, "iat")):
        if pattern.match(name):
            shape = _time_shape(field.value, write.source)
            if shape == "epoch":
                return _accessor(claim)
            kind, _, naive = shape.partition("_")
            return _accessor(f"{claim}_{kind}" + ("_naive" if naive else ""))
    if isinstance(field.value, cst.SimpleString | cst.Integer | cst.Float):
        return field.value
    if isinstance(field.value, cst.Name) and field.value.value in ("True", "False", "None"):
        return field.value
    return by_name(name) or cst.Name("None")


_BY_NAME: tuple[tuple[str, str], ...] = (
    (r"^(is_)?(revoked|deleted|disabled|invalidated|expired)$", "False"),
    (r"^(revoked|deleted|disabled|invalidated)(_at|_on)$", "None"),
    (r"^(is_)?(active|valid|enabled)$", "True"),
    (r"^(user(_?id|name)?|sub(ject)?|owner(_id)?|account(_id)?|uid)$", "c.sub"),
    (r"^client(_id)?$", "c.client_id"),
    (r"^scopes$", "c.scopes"),
    (r"^scope$", "c.scope"),
    (r"^(access_)?token$", "c.token"),
    (r"^(resource|audience|aud)$", "c.aud"),
)


def by_name(name: str) -> cst.BaseExpression | None:
    """A field the write does not give, from its name alone: a revocation flag of a live
    token (falsy), the subject, client, scope, token, audience, expiry or issue time."""
    for pattern, claim in ((EXPIRY, "exp"), (ISSUED, "iat")):
        if pattern.match(name):
            return _accessor(claim)
    for regex, code in _BY_NAME:
        if re.match(regex, name, re.IGNORECASE):
            return cst.parse_expression(code)
    return None


@dataclass
class RecordRead:
    """One field the gate reads from the record the lookup returned."""

    name: str
    node: cst.CSTNode


def _result_variable(source: SourceFile, call: cst.Call) -> str | None:
    parent = source.parent(call)
    if isinstance(parent, cst.Await):
        parent = source.parent(parent)
    if isinstance(parent, cst.Assign) and len(parent.targets) == 1:
        target = parent.targets[0].target
        return target.value if isinstance(target, cst.Name) else None
    if isinstance(parent, cst.NamedExpr) and isinstance(parent.target, cst.Name):
        return parent.target.value
    return None


def record_reads(source: SourceFile, call: cst.Call) -> list[RecordRead]:
    """``var["f"]``, ``var.f``, ``var.get("f")``, ``getattr(var, "f")`` in the gate, and in
    the functions of its module that the gate hands the record to (``_usable(record)``)."""
    variable = _result_variable(source, call)
    function = enclosing_function(source, call)
    if variable is None or function is None:
        return []
    return _reads_of(source, function, variable, {function.name.value})


def _reads_of(
    source: SourceFile, function: cst.FunctionDef, variable: str, seen: set[str]
) -> list[RecordRead]:
    reads: list[RecordRead] = []
    for node in walk(function.body):
        name = _read_name(source, node, variable)
        if name is not None:
            reads.append(RecordRead(name, node))
        for helper, parameter in _handed_to(source, node, variable):
            if helper.name.value not in seen:
                seen.add(helper.name.value)
                reads += _reads_of(source, helper, parameter, seen)
    return reads


def _handed_to(
    source: SourceFile, node: cst.CSTNode, variable: str
) -> list[tuple[cst.FunctionDef, str]]:
    """``helper(..., variable, ...)`` with ``helper`` a function of this module: the helper
    and the parameter the record arrives in (a read there is a read of the gate's)."""
    if not isinstance(node, cst.Call) or not isinstance(node.func, cst.Name):
        return []
    helper = _module_function(source, node.func.value)
    if helper is None:
        return []
    positional = [p.name.value for p in [*helper.params.posonly_params, *helper.params.params]]
    found = []
    for index, arg in enumerate(node.args):
        if not _is_var(arg.value, variable) or arg.star:
            continue
        if arg.keyword is not None:
            found.append((helper, arg.keyword.value))
        elif index < len(positional):
            found.append((helper, positional[index]))
    return found


def _module_function(source: SourceFile, name: str) -> cst.FunctionDef | None:
    defined = [
        node
        for node in source.module.body
        if isinstance(node, cst.FunctionDef) and node.name.value == name
    ]
    return defined[0] if len(defined) == 1 else None


def _is_var(node: cst.CSTNode, variable: str) -> bool:
    return isinstance(node, cst.Name) and node.value == variable


def _read_name(source: SourceFile, node: cst.CSTNode, variable: str) -> str | None:
    if isinstance(node, cst.Subscript) and _is_var(node.value, variable) and len(node.slice) == 1:
        index = node.slice[0].slice
        return string_value(index.value) if isinstance(index, cst.Index) else None
    if isinstance(node, cst.Call) and dotted(node.func) == "getattr" and len(node.args) >= 2:
        return string_value(node.args[1].value) if _is_var(node.args[0].value, variable) else None
    if isinstance(node, cst.Attribute) and _is_var(node.value, variable):
        parent = source.parent(node)
        if isinstance(parent, cst.Call) and parent.func is node:
            if node.attr.value == "get" and parent.args:
                return string_value(parent.args[0].value)
            return None  # a method of the record's class
        return node.attr.value
    return None


def record_expression(
    write: RecordWrite, reads: tuple[str, ...] | list[str] = (), tree: SourceTree | None = None
) -> cst.BaseExpression:
    """The record as the mint wrote it, plus the fields the gate reads that it lacks."""
    values = [(f, claim_value(f, write)) for f in write.fields]
    named = {f.name for f, _ in values}
    extra = [n for n in dict.fromkeys(reads) if n not in named and by_name(n) is not None]
    declared = _declared_fields(write, tree)
    if write.shape == "call" and write.callee is not None:
        extra = [n for n in extra if n in (declared or {})] if write.keywords else []
    values += [(Field(n, cst.Name("None")), _by_declaration(n, declared)) for n in extra]
    if write.shape in ("dict", "columns") or write.callee is None:
        return cst.Dict(
            [cst.DictElement(cst.SimpleString(json.dumps(f.name)), v) for f, v in values if f.name]
        )
    args = [keyword(f.name, v) if write.keywords and f.name else cst.Arg(v) for f, v in values]
    return cst.Call(write.callee, args)


# What ``oauth_migration.sdk_record`` fills itself on the SDK's access-token models (and
# on a subclass): the rest of the record's fields are passed to it by name.
SDK_FIELDS = frozenset(
    {"token", "client_id", "scopes", "expires_at", "resource", "subject", "claims"}
)


SDK_PACKAGES = ("mcp.", "fastmcp.")


def is_sdk_model(write: RecordWrite, tree: SourceTree | None) -> bool:
    """Whether the record is an SDK access-token model: a class imported from ``mcp`` or
    ``fastmcp``, or a class of the tree deriving from one (``UserAccessToken``)."""
    if write.shape != "call" or write.callee is None:
        return False
    return _from_sdk(write.source, write.callee, tree, depth=0)


def _from_sdk(
    source: SourceFile, name: cst.BaseExpression, tree: SourceTree | None, depth: int
) -> bool:
    full = qualified(name, imported_names(source.module)) or ""
    if full.startswith(SDK_PACKAGES):
        return True
    if tree is None or depth > 3:
        return False
    short = full.rsplit(".", 1)[-1]
    for candidate in tree.files.values():
        if f"class {short}" not in candidate.text:
            continue
        for node in candidate.module.body:
            if isinstance(node, cst.ClassDef) and node.name.value == short:
                return any(_from_sdk(candidate, b.value, tree, depth + 1) for b in node.bases)
    return False


def sdk_record_expression(write: RecordWrite) -> cst.BaseExpression:
    """``oauth_migration.sdk_record(c, <the record's class>, <its other fields>=...)``.

    The SDK's bearer middleware reads fields its version added (``claims``, ``subject``
    from mcp 1.27.2): the runtime builds the record for the installed SDK, and the fields
    the server's own subclass adds (``user_id``) come from the claims as the write names
    them."""
    args: list[cst.BaseExpression | cst.Arg] = [cst.Name("c")]
    if write.callee is not None:
        args.append(write.callee)
    args += [
        keyword(f.name, claim_value(f, write))
        for f in write.fields
        if f.name and f.name not in SDK_FIELDS
    ]
    return runtime_call(runtime_api.SDK_RECORD, *args)


def selected_columns(call: cst.Call) -> list[str] | None:
    """The columns of the SELECT in a hybrid gate's legacy lookup, in order."""
    for node in walk(call):
        text = string_value(node) if isinstance(node, cst.BaseExpression) else None
        columns = select_columns(text or "")
        if columns is not None:
            return columns
    return None


def row_expression(write: RecordWrite, columns: list[str]) -> cst.BaseExpression:
    """``oauth_migration.row({...})``: the SELECT's columns in order, read by name or index."""
    values = {f.name: claim_value(f, write) for f in write.fields if f.name}
    elements = [
        cst.DictElement(
            cst.SimpleString(json.dumps(c)), values.get(c) or by_name(c) or cst.Name("None")
        )
        for c in columns
    ]
    return runtime_call(runtime_api.ROW, cst.Dict(elements))


_FROM = re.compile(r"\bfrom\s+[\"`\[]?(\w+)", re.IGNORECASE)


def _row_columns(
    write: RecordWrite, call: cst.Call, tree: SourceTree | None
) -> tuple[list[str], bool]:
    """The columns of the row the legacy lookup returned, and whether they are all of
    them: the SELECT's, else the table's (``SELECT *``), else (not all) the INSERT's."""
    columns = selected_columns(call)
    if columns:
        return columns, True
    written = [f.name for f in write.fields if f.name]
    for node in walk(call):
        text = string_value(node) if isinstance(node, cst.BaseExpression) else None
        found = _FROM.search(text or "") if text and "select" in text.lower() else None
        table = table_columns(tree, found.group(1)) if found and tree is not None else None
        if table:
            return table + [c for c in written if c not in table], True
    return written, False


def _is_none(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "None"


def _gives(write: RecordWrite, name: str, known: list[str] | None, sdk: bool = False) -> bool:
    """Whether the record built from the claims has a real value for field ``name``.

    ``known``: every field the legacy record has (row columns, dataclass fields), or None
    when unknown; a name outside it was never a field (a property, or a read that failed
    before the move too), so there is nothing to supply. A field given by its name counts
    only where the record built can carry it: a class has the fields it declares (given
    by keyword, or its default). ``sdk``: an SDK access-token model, whose fields
    ``oauth_migration.sdk_record`` fills itself."""
    constructed = write.shape == "call" and write.callee is not None and not sdk
    carried = not constructed or (known is not None and name in known)
    if by_name(name) is not None and carried:
        return True
    field = next((f for f in write.fields if f.name == name), None)
    if field is not None:
        return not _is_none(claim_value(field, write)) or _is_none(field.value)
    return known is not None and name not in known


def _known_fields(write: RecordWrite, call: cst.Call, tree: SourceTree | None) -> list[str] | None:
    if write.shape == "columns":
        columns, complete = _row_columns(write, call, tree)
        return columns if complete else None
    declared = _declared_fields(write, tree)
    return list(declared) if declared is not None else None


def _declared_fields(write: RecordWrite, tree: SourceTree | None) -> dict[str, str] | None:
    """The record class's fields and their declared types (dataclass, ORM columns)."""
    if write.shape != "call" or write.callee is None or tree is None:
        return None
    return class_fields(tree, (dotted(write.callee) or "").split(".")[-1])


def _by_declaration(name: str, declared: dict[str, str] | None) -> cst.BaseExpression:
    """A field the write lacks, from its name, typed as its class declares it: a
    ``DateTime`` column (naive unless ``timezone=True``, as SQLAlchemy returns it) or a
    ``Mapped[datetime]`` gets a datetime, not epoch seconds it could not be compared with."""
    value = by_name(name) or cst.Name("None")
    kind = (declared or {}).get(name, "")
    claim = "exp" if EXPIRY.match(name) else "iat" if ISSUED.match(name) else None
    if claim is None or "datetime" not in kind.lower():
        return value
    aware = "timezone=True" in kind.replace(" ", "")
    return _accessor(f"{claim}_datetime" + ("" if aware else "_naive"))


def _builder(
    write: RecordWrite,
    call: cst.Call,
    reads: list[RecordRead],
    tree: SourceTree | None,
    sdk: bool,
) -> cst.Lambda:
    read_names = [r.name for r in reads]
    if sdk and is_sdk_model(write, tree):
        body = sdk_record_expression(write)
    elif write.shape == "columns":
        columns, _ = _row_columns(write, call, tree)
        body = row_expression(write, columns + [n for n in read_names if n not in columns])
    else:
        body = record_expression(write, read_names, tree)
    return cst.Lambda(cst.Parameters([cst.Param(cst.Name("c"))]), body)


def final_gate(
    source: SourceFile,
    write: RecordWrite,
    tree: SourceTree | None = None,
    *,
    sdk: bool = False,
    refills: FileEdits | None = None,
) -> tuple[FileEdits, list[ManualStep]]:
    """The JWT-only resolve for every hybrid resolve of ``source``, and a blocking manual
    step for each field the gate reads that the claims cannot give. ``sdk``: the record is
    an MCP SDK access-token model, built by ``oauth_migration.sdk_record``. ``refills``:
    where the refill-stores step's edits go (default: with the gate's own)."""
    edits, manual = FileEdits(), []
    refills = edits if refills is None else refills
    for call in find_hybrid_resolves(source):
        reads = record_reads(source, call)
        known = _known_fields(write, call, tree)
        model = sdk and is_sdk_model(write, tree)
        missing = [r for r in reads if not _gives(write, r.name, known, model)]
        manual += [_unsupplied(source, read) for read in missing]
        builder: cst.BaseExpression = _builder(write, call, reads, tree, sdk)
        statement = refill_stores.statement_of(source, call)
        kept_stores, cannot = _refills(source, call, write, tree, reachable=statement is not None)
        manual += cannot
        if kept_stores and statement is not None and isinstance(builder, cst.Lambda):
            function = refill_stores.builder_function(kept_stores, builder.body)
            refills.add(statement, refill_stores.before_statement(function))
            builder = cst.Name(refill_stores.BUILDER)
        kept = [a for a in call.args if a.keyword is None or a.keyword.value != "legacy"]
        record = keyword("record", builder)
        edits.add(call, _constant(call.with_changes(args=[*kept, record])))
    return edits, manual


def _refills(
    source: SourceFile,
    call: cst.Call,
    write: RecordWrite,
    tree: SourceTree | None,
    *,
    reachable: bool,
) -> tuple[list[refill_stores.Refill], list[ManualStep]]:
    """The side stores the mint keys by the token, each with its value from the claims
    (``reachable``: whether a builder function can be put before the resolve)."""
    stores = [(s, claim_value(Field(None, s.value), write)) for s in find_side_stores(write)]
    return refill_stores.plan_refills(tree, source, call, stores, reachable=reachable)


def _unsupplied(source: SourceFile, read: RecordRead) -> ManualStep:
    return ManualStep(
        source.where(read.node),
        f"the gate reads `{read.name}` from the legacy record, and no JWT claim gives it",
        f"pass `record=lambda c: ...` to this resolve with a value for `{read.name}` (or "
        "stop reading it here), then finalize again",
        "Manual steps: finalize",
        blocks_apply=True,
    )


def _constant(node: cst.CSTNode) -> Callable[[cst.CSTNode], cst.CSTNode]:
    return lambda _: node
