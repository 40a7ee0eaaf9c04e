"""Find the record the legacy code writes next to each access-token mint.

After finalize the gate no longer looks tokens up, so it must rebuild, from the JWT's
claims, the very record the legacy lookup used to return: same class or shape, same field
names, same value types. Where the mint's value goes says what that record is:

- ``store[token] = {...}`` or ``store.put(token, {...})``: the dict (or constructor) stored;
- ``Record(token=token, ...)`` or ``Record(token, ...)`` (fields from its class): the call;
- ``INSERT INTO t (cols) VALUES (?, ...)`` with the token among the parameters: a dict of
  the columns (``CREATE TABLE t`` gives them when the INSERT names none);
- a dict literal holding the token.

Each field's value is then read by role: the token, the mint's subject, client, scope and
resource arguments, an expiry or issue time (told by the field's name, typed by how the
legacy code wrote it), literals kept, anything else ``None``.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

import libcst as cst

from migrate import runtime_api
from migrate.scan.source import SourceFile, SourceTree
from migrate.scan.sql import Placeholder, bound, read_insert, sql_text
from migrate.scan.syntax import dotted, enclosing, enclosing_function, string_value, walk

MINT_CALL = runtime_api.MINT
_CREATE = r"create\s+table\s+(?:if\s+not\s+exists\s+)?{table}\s*\((.*?)\)\s*;?\s*$"
_CONSTRAINTS = {"primary", "foreign", "unique", "check", "constraint"}


@dataclass
class Field:
    name: str | None  # None for a positional argument whose class was not found
    value: cst.BaseExpression


@dataclass
class RecordWrite:
    """The record written for one mint: its shape, its fields and where it was found."""

    source: SourceFile
    mint: cst.BaseExpression  # the JWT mint call (or, before apply, the opaque mint)
    shape: str  # "call" (keywords or positional), "dict" or "columns"
    fields: list[Field]
    callee: cst.BaseExpression | None = None
    keywords: bool = True
    mint_arguments: dict[str, str] = field(default_factory=dict)  # role -> code
    mint_variable: str | None = None
    # The store the record is written into (``ACTIVE`` in ``ACTIVE[token] = {...}``):
    # a token store whatever its name, so its deletes must revoke.
    store: str | None = None

    @property
    def where(self) -> str:
        return self.source.where(self.mint)


def _code(node: cst.CSTNode) -> str:
    return cst.Module([]).code_for_node(node)


_RESPONSE_KEYS = frozenset({"token_type", "expires_in"})
_RESPONSE_CALL = re.compile(r"response|jsonify", re.IGNORECASE)


def _is_response(node: cst.CSTNode) -> bool:
    """The token endpoint's answer (RFC 6749 §5.1 keys, a response helper): it holds the
    token too, but it is not the record the gate reads back."""
    if isinstance(node, cst.Dict):
        keys = {string_value(e.key) for e in node.elements if isinstance(e, cst.DictElement)}
        return not _RESPONSE_KEYS.isdisjoint(keys)
    if isinstance(node, cst.Call):
        keywords = {a.keyword.value for a in node.args if a.keyword is not None}
        name = (dotted(node.func) or "").split(".")[-1]
        return bool(_RESPONSE_CALL.search(name)) or not _RESPONSE_KEYS.isdisjoint(keywords)
    return False


def _is_mint(node: cst.CSTNode) -> bool:
    return isinstance(node, cst.Call) and (dotted(node.func) or "").endswith(MINT_CALL)


def _holds(node: cst.CSTNode, variable: str | None, mint: cst.BaseExpression) -> bool:
    if node is mint:
        return True
    return variable is not None and isinstance(node, cst.Name) and node.value == variable


def _dataclass_fields(tree: SourceTree, name: str) -> list[str] | None:
    for source in tree.with_text(f"class {name}"):
        for node in walk(source.module):
            if isinstance(node, cst.ClassDef) and node.name.value == name:
                body = node.body.body if isinstance(node.body, cst.IndentedBlock) else []
                return [
                    small.target.value
                    for statement in body
                    if isinstance(statement, cst.SimpleStatementLine)
                    for small in statement.body
                    if isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name)
                ]
    return None


def _table_columns(tree: SourceTree, table: str) -> list[str] | None:
    pattern = re.compile(_CREATE.format(table=re.escape(table)), re.IGNORECASE | re.DOTALL | re.M)
    for source in tree.with_text(table):
        for node in walk(source.module):
            text = string_value(node) if isinstance(node, cst.BaseExpression) else None
            if not text:
                continue
            for statement in text.split(";"):
                found = pattern.search(statement.strip() + ";")
                if found:
                    return _column_names(found.group(1))
    return None


def _column_names(body: str) -> list[str]:
    names, depth, current = [], 0, ""
    for char in body + ",":
        if char == "," and depth == 0:
            word = current.strip().split()
            if word and word[0].lower() not in _CONSTRAINTS:
                names.append(word[0].strip('"`[]'))
            current = ""
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        current += char
    return names


def _from_call(
    tree: SourceTree, call: cst.Call, variable: str | None, mint: cst.BaseExpression
) -> tuple[str, list[Field], cst.BaseExpression | None, bool] | None:
    insert = read_insert(sql_text(call) or "")
    if insert is not None:
        columns = insert.columns or _table_columns(tree, insert.table)
        if columns is None or len(columns) != len(insert.values):
            return None
        values = [_insert_value(call, v) for v in insert.values]
        fields = [Field(c, v) for c, v in zip(columns, values, strict=True) if v is not None]
        return "columns", fields, None, True
    if not any(_holds(a.value, variable, mint) for a in call.args):
        return None
    for arg in call.args:
        # store.put(token, {...}): the record is the other argument.
        if isinstance(arg.value, cst.Dict | cst.Call) and not _holds(arg.value, variable, mint):
            return _record_expression(tree, arg.value, variable, mint)
    return _record_expression(tree, call, variable, mint)


def _insert_value(call: cst.Call, value: Placeholder | str) -> cst.BaseExpression | None:
    """The Python value of one VALUES item: the bound parameter, or the SQL literal."""
    if isinstance(value, Placeholder):
        return bound(call, value.param)
    if value.startswith("'"):
        return cst.SimpleString(repr(value[1:-1].replace("''", "'")))
    if _NUMBER.match(value):
        return cst.Integer(value) if value.isdigit() else cst.Float(value)
    return None


_NUMBER = re.compile(r"^\d+(\.\d+)?$")


def _record_expression(
    tree: SourceTree, expr: cst.BaseExpression, variable: str | None, mint: cst.BaseExpression
) -> tuple[str, list[Field], cst.BaseExpression | None, bool] | None:
    if isinstance(expr, cst.Dict):
        fields = [
            Field(string_value(e.key), e.value)
            for e in expr.elements
            if isinstance(e, cst.DictElement) and string_value(e.key) is not None
        ]
        return "dict", fields, None, True
    if not isinstance(expr, cst.Call) or _is_mint(expr):
        return None
    if all(a.keyword is not None for a in expr.args):
        fields = [Field(a.keyword.value if a.keyword else None, a.value) for a in expr.args]
        return "call", fields, expr.func, True
    names = _dataclass_fields(tree, (dotted(expr.func) or "").split(".")[-1])
    if names is None or len(names) < len(expr.args) or any(a.keyword for a in expr.args):
        return None
    return (
        "call",
        [Field(n, a.value) for n, a in zip(names, expr.args, strict=False)],
        expr.func,
        False,
    )


def _write_for(
    tree: SourceTree, source: SourceFile, mint: cst.BaseExpression
) -> RecordWrite | None:
    function = enclosing_function(source, mint)
    if function is None:
        return None
    parent = source.parent(mint)
    variable = None
    if isinstance(parent, cst.Assign) and isinstance(parent.targets[0].target, cst.Name):
        variable = parent.targets[0].target.value
    elif isinstance(parent, cst.Element):
        variable = _unpacked_name(source, parent)
    elif isinstance(parent, cst.Arg):
        outer = source.parent(parent)
        if isinstance(outer, cst.Call):
            found = _record_expression(tree, outer, variable, mint)
            return _write(source, mint, found, variable)
    for node in walk(function.body):
        found, store = None, None
        if _is_response(node):
            continue
        if isinstance(node, cst.Assign) and len(node.targets) >= 1:
            target = node.targets[0].target
            if isinstance(target, cst.Subscript) and len(target.slice) == 1:
                index = target.slice[0].slice
                if isinstance(index, cst.Index) and _holds(index.value, variable, mint):
                    found = _record_expression(tree, node.value, variable, mint)
                    store = dotted(target.value)
        elif isinstance(node, cst.Call) and not _is_mint(node):
            found = _from_call(tree, node, variable, mint)
        elif isinstance(node, cst.Dict) and any(
            isinstance(e, cst.DictElement) and _holds(e.value, variable, mint)
            for e in node.elements
        ):
            found = _record_expression(tree, node, variable, mint)
        if found is not None:
            write = _write(source, mint, found, variable)
            return dataclasses.replace(write, store=store) if write and store else write
    return None


def _unpacked_name(source: SourceFile, element: cst.Element) -> str | None:
    """``access, refresh = <mint>, <other>``: the name the mint's element is bound to."""
    values = source.parent(element)
    statement = source.parent(values) if isinstance(values, cst.Tuple) else None
    if not isinstance(values, cst.Tuple) or not isinstance(statement, cst.Assign):
        return None
    target = statement.targets[0].target
    if not isinstance(target, cst.Tuple) or len(target.elements) != len(values.elements):
        return None
    index = next(i for i, e in enumerate(values.elements) if e is element)
    name = target.elements[index].value
    return name.value if isinstance(name, cst.Name) else None


def _write(
    source: SourceFile,
    mint: cst.BaseExpression,
    found: tuple[str, list[Field], cst.BaseExpression | None, bool] | None,
    variable: str | None,
) -> RecordWrite | None:
    if found is None:
        return None
    shape, fields, callee, keywords = found
    if callee is not None and dotted(callee) in ("cls", "self.__class__"):
        # A classmethod building its own class: the gate must name the class itself.
        owner = enclosing(source, mint, (cst.ClassDef,))
        callee = cst.Name(owner.name.value) if isinstance(owner, cst.ClassDef) else None
        if callee is None:
            return None
    args = mint.args if isinstance(mint, cst.Call) else ()
    arguments = {a.keyword.value: _code(a.value) for a in args if a.keyword is not None}
    return RecordWrite(source, mint, shape, fields, callee, keywords, arguments, variable)


def find_record_writes(tree: SourceTree) -> tuple[list[RecordWrite], list[str]]:
    """The record written beside each JWT mint, and the places where none was found."""
    writes: list[RecordWrite] = []
    missing: list[str] = []
    for source in tree.with_text(MINT_CALL):
        for node in walk(source.module):
            if _is_mint(node):
                assert isinstance(node, cst.Call)
                write = _write_for(tree, source, node)
                if write is None:
                    missing.append(source.where(node))
                else:
                    writes.append(write)
    return writes, missing


def write_near(
    tree: SourceTree, source: SourceFile, mint: cst.BaseExpression
) -> RecordWrite | None:
    """The record written beside any mint expression (an opaque one, before `apply`)."""
    return _write_for(tree, source, mint)


def token_field(write: RecordWrite) -> str | None:
    """The field of the record that holds the access token (a column, key or keyword)."""
    for item in write.fields:
        code = _code(item.value)
        if item.name and (code == write.mint_variable or item.value is write.mint):
            return item.name
    return None


def record_class(write: RecordWrite) -> str | None:
    return (dotted(write.callee) or "").split(".")[-1] or None if write.callee else None


def dataclass_fields(tree: SourceTree, name: str) -> list[str] | None:
    """The annotated fields of class ``name`` in the tree, in order (None: not found)."""
    return _dataclass_fields(tree, name)


def table_columns(tree: SourceTree, table: str) -> list[str] | None:
    """The columns of ``CREATE TABLE <table>`` found in the tree's strings, in order."""
    return _table_columns(tree, table)
