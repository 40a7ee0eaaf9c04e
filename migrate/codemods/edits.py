"""How codemods change a file: node replacements keyed by the original node, one pass.

Finders hold nodes of the parsed original tree; each codemod turns its findings into
:class:`Edit` objects, and :func:`rewrite` applies every edit of a file in one libcst
pass, so codemods never see each other's output and their order does not matter. Code
outside the replaced nodes keeps its comments and formatting byte for byte.
"""

from __future__ import annotations

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


def add_imports(module: cst.Module, imports: list[str]) -> cst.Module:
    present = {module.code_for_node(s).strip() for s in module.body}
    new = [cst.parse_statement(i) for i in imports if i not in present]
    if not new:
        return module
    index = _import_index(module)
    body = [*module.body[:index], *new, *module.body[index:]]
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
