"""Find where the legacy code deletes tokens from its store (rotation, /revoke, clean-up).

After finalize a JWT no longer needs the store to be valid, so deleting it there no
longer revokes it. These are the places that must also put the token's ``jti`` on the
denylist: ``tokens.pop(key)``, ``del sessions[key]`` and ``DELETE FROM tokens WHERE
<column> = ?`` on a store whose name says it holds tokens or sessions. A DELETE keyed by
another column than the access token's (a refresh token, a grant id) cannot name the
access token it removes: it is reported as a manual step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import libcst as cst

from migrate.scan.source import SourceFile, SourceTree
from migrate.scan.syntax import (
    dotted,
    enclosing,
    enclosing_function,
    enclosing_statement,
    parameters,
    string_value,
    walk,
)

_STORE = re.compile(r"token|session", re.IGNORECASE)
_DELETE = re.compile(r"^\s*delete\s+from\s+(\w+)\s+where\s+(\w+)\s*=\s*\?\s*;?\s*$", re.IGNORECASE)


@dataclass
class Delete:
    source: SourceFile
    statement: cst.CSTNode
    key: cst.BaseExpression | None  # None: the access token it deletes cannot be named
    detail: str

    @property
    def where(self) -> str:
        return self.source.where(self.statement)


def _holds_tokens(source: SourceFile, node: cst.CSTNode, owner: str) -> bool:
    """``tokens`` / ``_sessions``, or ``self.<anything>`` inside a token or session store."""
    if _STORE.search(owner.split(".")[-1]):
        return True
    if owner.startswith("self."):
        cls = enclosing(source, node, (cst.ClassDef,))
        return isinstance(cls, cst.ClassDef) and _STORE.search(cls.name.value) is not None
    return False


def _pop_key(source: SourceFile, node: cst.Call) -> cst.BaseExpression | None:
    func = node.func
    if not isinstance(func, cst.Attribute) or func.attr.value != "pop" or not node.args:
        return None
    return node.args[0].value if _holds_tokens(source, node, dotted(func.value) or "") else None


def _sql_delete(
    node: cst.Call, token_column: str | None
) -> tuple[cst.BaseExpression | None, str] | None:
    sql = string_value(node.args[0].value) if node.args else None
    found = _DELETE.match(sql or "")
    if found is None or not _STORE.search(found.group(1)) or len(node.args) < 2:
        return None
    params = node.args[1].value
    key = params.elements[0].value if isinstance(params, cst.Tuple) and params.elements else params
    if token_column is not None and found.group(2) != token_column:
        return None, f"DELETE keyed by {found.group(2)}, not by the access token ({token_column})"
    return key, f"DELETE FROM {found.group(1)}"


def _underlying(
    source: SourceFile, node: cst.CSTNode, key: cst.BaseExpression | None
) -> cst.BaseExpression | None:
    """The token behind a derived store key: ``k = token_key(token)`` stores under a hash,
    but the denylist needs the token itself, here the function's parameter ``token``."""
    function = enclosing_function(source, node)
    if not isinstance(key, cst.Name) or function is None:
        return key
    params = set(parameters(function))
    for statement in walk(function.body):
        if not isinstance(statement, cst.Assign) or len(statement.targets) != 1:
            continue
        target, value = statement.targets[0].target, statement.value
        if (
            isinstance(target, cst.Name)
            and target.value == key.value
            and isinstance(value, cst.Call)
        ):
            given = [a.value for a in value.args if isinstance(a.value, cst.Name)]
            inputs = [v for v in given if v.value in params]
            if len(inputs) == 1 and len(value.args) == 1:
                return inputs[0]
    return key


def find_deletes(tree: SourceTree, token_column: str | None) -> list[Delete]:
    deletes: list[Delete] = []
    for source in tree.with_text(".pop(", "del ", "DELETE", "delete"):
        for node in walk(source.module):
            found: tuple[cst.BaseExpression | None, str] | None = None
            if isinstance(node, cst.Call):
                key = _pop_key(source, node)
                found = (key, "pop") if key is not None else _sql_delete(node, token_column)
            elif isinstance(node, cst.Del) and isinstance(node.target, cst.Subscript):
                owner = dotted(node.target.value) or ""
                index = node.target.slice[0].slice
                if _holds_tokens(source, node, owner) and isinstance(index, cst.Index):
                    found = (index.value, "del")
            if found is None:
                continue
            statement = enclosing_statement(source, node)
            if statement is not None:
                key = _underlying(source, node, found[0])
                deletes.append(Delete(source, statement, key, found[1]))
    return deletes
