"""Small questions finders ask of a libcst tree: dotted names, imports, enclosing scopes."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst
import libcst.matchers as m

from migrate.scan.source import SourceFile, children, indexed_walk


def dotted(expr: cst.BaseExpression) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None."""
    if isinstance(expr, cst.Name):
        return expr.value
    if isinstance(expr, cst.Attribute):
        base = dotted(expr.value)
        return f"{base}.{expr.attr.value}" if base else None
    return None


def imported_names(module: cst.Module) -> dict[str, str]:
    """Local name -> what it stands for: ``token_hex`` -> ``secrets.token_hex``.

    The last module's answer is kept (a copy is returned): the scan asks again for the
    same module at every node it follows, which made one file's cost grow with the square
    of its size (a 900 KB module took 20 s; issue 13)."""
    global _last_imports
    last, names = _last_imports
    if last is module:
        return dict(names)
    names = _read_imports(module)
    _last_imports = (module, names)
    return dict(names)


# (module, its imports): one slot, compared with `is` (nodes cannot be weakly referenced),
# so it holds one tree at most; the scan asks about one module at a time.
_last_imports: tuple[cst.Module | None, dict[str, str]] = (None, {})


def _read_imports(module: cst.Module) -> dict[str, str]:
    names: dict[str, str] = {}
    for statement in module.body:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if isinstance(small, cst.Import):
                for alias in small.names:
                    full = dotted(alias.name) or ""
                    if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                        names[alias.asname.name.value] = full
                    else:
                        head = full.split(".")[0]
                        names[head] = head
            elif isinstance(small, cst.ImportFrom) and not isinstance(small.names, cst.ImportStar):
                source = dotted(small.module) if small.module else ""
                for alias in small.names:
                    name = dotted(alias.name) or ""
                    local_node = alias.asname.name if alias.asname else alias.name
                    local = (
                        dotted(local_node) if isinstance(local_node, cst.BaseExpression) else None
                    )
                    if local:
                        names[local] = f"{source}.{name}" if source else name
    return names


def qualified(expr: cst.BaseExpression, imports: dict[str, str]) -> str | None:
    """The dotted name of ``expr`` with its first part resolved through the imports."""
    name = dotted(expr)
    if name is None:
        return None
    head, _, rest = name.partition(".")
    base = imports.get(head, head)
    return f"{base}.{rest}" if rest else base


def enclosing(
    source: SourceFile, node: cst.CSTNode, kinds: tuple[type[cst.CSTNode], ...]
) -> cst.CSTNode | None:
    current = source.parent(node)
    while current is not None and not isinstance(current, kinds):
        current = source.parent(current)
    return current


def enclosing_function(source: SourceFile, node: cst.CSTNode) -> cst.FunctionDef | None:
    found = enclosing(source, node, (cst.FunctionDef,))
    return found if isinstance(found, cst.FunctionDef) else None


def enclosing_statement(source: SourceFile, node: cst.CSTNode) -> cst.CSTNode | None:
    """The statement (simple line or compound) that holds ``node``."""
    return enclosing(source, node, (cst.SimpleStatementLine, cst.BaseCompoundStatement))


def parameters(function: cst.FunctionDef) -> list[str]:
    params = function.params
    every = [*params.posonly_params, *params.params, *params.kwonly_params]
    return [p.name.value for p in every]


def keyword_value(call: cst.Call, *names: str) -> cst.BaseExpression | None:
    """The value of the first ``name=`` argument of ``call`` among ``names``."""
    return next((a.value for a in call.args if a.keyword and a.keyword.value in names), None)


def walk(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """Every node under ``node``, itself included, in source order."""
    indexed = indexed_walk(node)
    if indexed is not None:
        yield from indexed
        return
    yield node
    for child in children(node):
        yield from walk(child)


def string_value(expr: cst.BaseExpression) -> str | None:
    """The text of a plain (or implicitly concatenated) string literal."""
    if isinstance(expr, cst.SimpleString):
        value = expr.evaluated_value
        return value if isinstance(value, str) else None
    if isinstance(expr, cst.ConcatenatedString):
        left, right = string_value(expr.left), string_value(expr.right)
        return left + right if left is not None and right is not None else None
    return None


def names_in(expr: cst.CSTNode) -> set[str]:
    """Names an expression reads: bare names and the heads of attribute chains."""
    if isinstance(expr, cst.Name):
        return {expr.value}
    if isinstance(expr, cst.Attribute):
        return names_in(expr.value)
    if isinstance(expr, cst.Lambda):
        return set()  # a lambda's own names are not needed where it is written
    if isinstance(expr, cst.Arg):
        return names_in(expr.value)  # in ``f(db=db)`` the keyword is no variable
    found: set[str] = set()
    for child in children(expr):
        found |= names_in(child)
    return found


def assigned_names(statement: cst.CSTNode) -> set[str]:
    """Names a simple statement binds (``a = ...``, ``a, b = ...``, ``a: T = ...``)."""
    names: set[str] = set()
    if not isinstance(statement, cst.SimpleStatementLine):
        return names
    for small in statement.body:
        targets: list[cst.BaseExpression] = []
        if isinstance(small, cst.Assign):
            targets = [t.target for t in small.targets]
        elif isinstance(small, cst.AnnAssign | cst.AugAssign):
            targets = [small.target]
        for target in targets:
            for node in walk(target):
                if isinstance(node, cst.Name) and m.matches(
                    target, m.Name() | m.Tuple() | m.List()
                ):
                    names.add(node.value)
    return names
