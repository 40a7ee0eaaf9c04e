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

Refuses: a gate whose mint wrote no record it could read (a manual step).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import libcst as cst

from migrate.codemods import RUNTIME_NAME
from migrate.codemods.edits import FileEdits
from migrate.scan.record_writes import Field, RecordWrite
from migrate.scan.source import SourceFile
from migrate.scan.syntax import dotted, string_value, walk

EXPIRY = re.compile(r"^(exp|expires?(_at|_on)?|expiry|expiration|valid_until|not_after)$", re.I)
ISSUED = re.compile(r"^(iat|issued(_at)?|created(_at)?)$", re.I)
ROLE_ACCESSORS = {"subject": "sub", "client_id": "client_id", "resource": "aud"}


def find_hybrid_resolves(source: SourceFile) -> list[cst.Call]:
    """``oauth_migration.resolve[_async](..., legacy=...)`` calls in one file."""
    found = []
    for node in walk(source.module):
        if (
            isinstance(node, cst.Call)
            and dotted(node.func) in (f"{RUNTIME_NAME}.resolve", f"{RUNTIME_NAME}.resolve_async")
            and any(a.keyword is not None and a.keyword.value == "legacy" for a in node.args)
        ):
            found.append(node)
    return found


def _code(node: cst.CSTNode) -> str:
    return cst.Module([]).code_for_node(node)


def _time_shape(value: cst.BaseExpression, source: SourceFile) -> str:
    """``iso``/``datetime`` (``_naive`` unless UTC-aware) or ``epoch``, from the write."""
    text = _code(value) + _called_helper_text(value, source)
    aware = "utc" in text.lower() or "timezone" in text
    suffix = "" if aware else "_naive"
    if "isoformat" in text:
        return "iso" + suffix
    if "timedelta" in text or "datetime" in text:
        return "datetime" + suffix
    return "epoch"


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
    if (write.mint_variable and code == write.mint_variable) or "mint_access_token" in code:
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
    return cst.Name("None")


def record_expression(write: RecordWrite) -> cst.BaseExpression:
    values = [(f, claim_value(f, write)) for f in write.fields]
    if write.shape in ("dict", "columns") or write.callee is None:
        return cst.Dict(
            [cst.DictElement(cst.SimpleString(json.dumps(f.name)), v) for f, v in values if f.name]
        )
    no_space = cst.AssignEqual(
        whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
    )
    args = [
        cst.Arg(v, keyword=cst.Name(f.name), equal=no_space)
        if write.keywords and f.name
        else cst.Arg(v)
        for f, v in values
    ]
    return cst.Call(write.callee, args)


_SELECT = re.compile(r"^\s*select\s+(.+?)\s+from\s", re.IGNORECASE | re.DOTALL)


def selected_columns(call: cst.Call) -> list[str] | None:
    """The columns of the SELECT in a hybrid gate's legacy lookup, in order."""
    for node in walk(call):
        text = string_value(node) if isinstance(node, cst.BaseExpression) else None
        found = _SELECT.match(text or "")
        if found and found.group(1).strip() != "*":
            return [c.strip().split()[-1].split(".")[-1] for c in found.group(1).split(",")]
    return None


def row_expression(write: RecordWrite, columns: list[str]) -> cst.BaseExpression:
    """``oauth_migration.row({...})``: the SELECT's columns in order, read by name or index."""
    values = {f.name: claim_value(f, write) for f in write.fields if f.name}
    elements = [
        cst.DictElement(cst.SimpleString(json.dumps(c)), values.get(c, cst.Name("None")))
        for c in columns
    ]
    return cst.Call(
        cst.Attribute(cst.Name(RUNTIME_NAME), cst.Name("row")), [cst.Arg(cst.Dict(elements))]
    )


def _builder(write: RecordWrite, call: cst.Call) -> cst.Lambda:
    columns = selected_columns(call) if write.shape == "columns" else None
    if write.shape == "columns":
        columns = columns or [f.name for f in write.fields if f.name]
        body = row_expression(write, columns)
    else:
        body = record_expression(write)
    return cst.Lambda(cst.Parameters([cst.Param(cst.Name("c"))]), body)


def final_gate(source: SourceFile, write: RecordWrite) -> FileEdits:
    edits = FileEdits()
    no_space = cst.AssignEqual(
        whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
    )
    for call in find_hybrid_resolves(source):
        builder = _builder(write, call)
        kept = [a for a in call.args if a.keyword is None or a.keyword.value != "legacy"]
        record = cst.Arg(builder, keyword=cst.Name("record"), equal=no_space)
        edits.add(call, _constant(call.with_changes(args=[*kept, record])))
    return edits


def _constant(node: cst.CSTNode) -> Callable[[cst.CSTNode], cst.CSTNode]:
    return lambda _: node
