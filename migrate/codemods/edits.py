"""How codemods change a file: node replacements keyed by the original node, one pass.

Finders hold nodes of the parsed original tree; each codemod turns its findings into
:class:`Edit` objects, and :func:`rewrite` applies every edit of a file in one libcst
pass, so codemods never see each other's output and their order does not matter. Code
outside the replaced nodes keeps its comments and formatting byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import libcst as cst

Replacement = Callable[
    [cst.CSTNode], cst.CSTNode | cst.FlattenSentinel[cst.CSTNode] | cst.RemovalSentinel
]


@dataclass
class Edit:
    node: cst.CSTNode
    replace: Replacement


@dataclass
class FileEdits:
    edits: list[Edit] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)  # whole import statements, as code

    def add(self, node: cst.CSTNode, replace: Replacement) -> None:
        self.edits.append(Edit(node, replace))

    def merge(self, other: FileEdits) -> None:
        self.edits += other.edits
        self.imports += [i for i in other.imports if i not in self.imports]


class _Applier(cst.CSTTransformer):
    def __init__(self, edits: list[Edit]) -> None:
        self.by_node: dict[int, list[Replacement]] = {}
        for edit in edits:
            self.by_node.setdefault(id(edit.node), []).append(edit.replace)

    def on_leave(  # type: ignore[override]  # libcst's generic signature, widened
        self, original_node: cst.CSTNode, updated_node: cst.CSTNode
    ) -> cst.CSTNode | cst.FlattenSentinel[cst.CSTNode] | cst.RemovalSentinel:
        result: cst.CSTNode | cst.FlattenSentinel[cst.CSTNode] | cst.RemovalSentinel
        result = updated_node
        for replace in self.by_node.get(id(original_node), []):
            if not isinstance(result, cst.CSTNode):
                raise ValueError("two edits flatten or remove the same node")
            result = replace(result)
        return result


def _import_index(module: cst.Module) -> int:
    """After the docstring, ``from __future__`` and the leading imports."""
    index = 0
    for i, statement in enumerate(module.body):
        if not isinstance(statement, cst.SimpleStatementLine):
            break
        small = statement.body[0]
        is_docstring = (
            i == 0
            and isinstance(small, cst.Expr)
            and isinstance(small.value, cst.SimpleString | cst.ConcatenatedString)
        )
        if is_docstring or isinstance(small, cst.Import | cst.ImportFrom):
            index = i + 1
        else:
            break
    return index


_RELATIVE = re.compile(r"from\s+(\.+)([\w.]*)\s+import\b")
_BLANK = (cst.EmptyLine(),)


def _relative_key(module: cst.Module, statement: cst.CSTNode) -> tuple[int, str] | None:
    """isort's order of a relative import (furthest first, then by name), else None."""
    found = _RELATIVE.match(module.code_for_node(statement).strip())
    return (-len(found.group(1)), found.group(2)) if found else None


def _insert_relative(module: cst.Module, body: list[cst.BaseStatement], line: str) -> None:
    """Put a relative import where isort would: in its own section, after the absolute
    imports and a blank line, in order among the file's other relative imports."""
    end = _import_index(module.with_changes(body=body))
    statement = cst.parse_statement(line)
    key = _relative_key(module, statement)
    assert isinstance(statement, cst.SimpleStatementLine) and key is not None
    start = end
    while start > 0 and _relative_key(module, body[start - 1]) is not None:
        start -= 1
    at = next((i for i in range(start, end) if (_relative_key(module, body[i]) or key) > key), end)
    if at == start:  # first of its section: the section's blank line moves to it
        displaced = body[at] if at < end else None
        leading: tuple[cst.EmptyLine, ...] = _BLANK if at > 0 else ()
        if isinstance(displaced, cst.SimpleStatementLine):
            leading = tuple(displaced.leading_lines) or leading
            body[at] = displaced.with_changes(leading_lines=())
        statement = statement.with_changes(leading_lines=leading)
    body.insert(at, statement)


def add_imports(module: cst.Module, imports: list[str]) -> cst.Module:
    present = {module.code_for_node(s).strip() for s in module.body}
    lines = [i for i in imports if i not in present]
    if not lines:
        return module
    body: list[cst.BaseStatement] = list(module.body)
    for line in lines:
        if _RELATIVE.match(line):
            _insert_relative(module, body, line)
        else:
            body.insert(_import_index(module.with_changes(body=body)), cst.parse_statement(line))
    return module.with_changes(body=body)


def rewrite(module: cst.Module, edits: FileEdits) -> str:
    """The file's new text; raises ValueError when the result would not parse."""
    changed = module.visit(_Applier(edits.edits))
    changed = add_imports(changed, edits.imports)
    code = changed.code
    try:
        cst.parse_module(code)
    except cst.ParserSyntaxError as exc:
        raise ValueError(f"a rewrite produced code that does not parse: {exc.message}") from None
    return code
