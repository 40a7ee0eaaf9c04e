"""The fields a record class declares, with the type each is declared with.

A keyword-constructed record (``AccessToken(token=..., user_id=...)``) accepts the fields
its class declares: dataclass, attrs or pydantic annotations (``expires_at: int``), and
SQLAlchemy declarative columns (``expires_at = Column(DateTime)``, ``expires_at:
Mapped[datetime] = mapped_column()``), whose default constructor takes every mapped
column by keyword. The type text says what a value must be (an epoch, a datetime).
"""

from __future__ import annotations

import libcst as cst

from migrate.scan.source import SourceTree
from migrate.scan.syntax import dotted, walk

_COLUMNS = frozenset({"Column", "mapped_column"})


def class_fields(tree: SourceTree, name: str) -> dict[str, str] | None:
    """Field -> its declared type text, in class order, of the one class ``name`` in the
    tree (None: not found, or several)."""
    found = [
        node
        for source in tree.with_text(f"class {name}")
        for node in walk(source.module)
        if isinstance(node, cst.ClassDef) and node.name.value == name
    ]
    if len(found) != 1 or not isinstance(found[0].body, cst.IndentedBlock):
        return None
    fields: dict[str, str] = {}
    for statement in found[0].body.body:
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                fields.update(_declared(small))
    return fields


def _declared(small: cst.BaseSmallStatement) -> dict[str, str]:
    if isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name):
        column = _column_type(small.value) if small.value is not None else ""
        return {small.target.value: column or _code(small.annotation.annotation)}
    if (
        isinstance(small, cst.Assign)
        and len(small.targets) == 1
        and isinstance(small.targets[0].target, cst.Name)
        and _is_column(small.value)
    ):
        return {small.targets[0].target.value: _column_type(small.value)}
    return {}


def _is_column(value: cst.BaseExpression) -> bool:
    return isinstance(value, cst.Call) and (dotted(value.func) or "").split(".")[-1] in _COLUMNS


def _column_type(value: cst.BaseExpression) -> str:
    """``Column(DateTime(timezone=True), ...)`` -> its positional arguments' text."""
    if not _is_column(value):
        return ""
    assert isinstance(value, cst.Call)
    return " ".join(_code(a.value) for a in value.args if a.keyword is None)


def _code(node: cst.CSTNode) -> str:
    return cst.Module([]).code_for_node(node)
