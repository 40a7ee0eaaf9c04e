"""Find the side stores a mint fills beside its record, keyed by the access token.

A mint often keeps more than the record the gate looks up: ``self.owners[access] =
user`` when the SDK's ``AccessToken`` has no field for the resource owner, ``LABELS[token]
= client_name``. In the final phase the record comes from the claims, but nothing writes
these again, so after a restart of an in-memory server a JWT that still verifies finds
them empty (a tool reading ``owners.get(token)`` answers "no user").

Found here: in the function that mints, each assignment ``<store>[<the minted token's
name>] = <value>`` other than the record itself (the store the gate reads, rebuilt by
the final gate); any other value, a call or a dict too, is a side store. Chained targets
count one by one (``self.owners[access] = self.owners[refresh] = user`` keeps only the
access key).
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from migrate.scan.record_writes import RecordWrite
from migrate.scan.source import SourceFile, SourceTree
from migrate.scan.syntax import enclosing, enclosing_function, walk


@dataclass(frozen=True)
class SideStore:
    """One ``store[token] = value`` the mint writes beside its record."""

    source: SourceFile
    assign: cst.Assign
    store: cst.BaseExpression  # ``self.owners``, ``OWNERS``
    value: cst.BaseExpression

    @property
    def where(self) -> str:
        return self.source.where(self.assign)

    @property
    def code(self) -> str:
        return cst.Module([]).code_for_node(self.store)


def _keyed_by(target: cst.BaseAssignTargetExpression, variable: str) -> bool:
    if not isinstance(target, cst.Subscript) or len(target.slice) != 1:
        return False
    index = target.slice[0].slice
    return (
        isinstance(index, cst.Index)
        and isinstance(index.value, cst.Name)
        and index.value.value == variable
    )


def find_side_stores(write: RecordWrite) -> list[SideStore]:
    """The side stores written beside ``write``'s mint, keyed by the minted token."""
    variable = write.mint_variable
    function = enclosing_function(write.source, write.mint)
    if variable is None or function is None:
        return []
    found = []
    for node in walk(function.body):
        if not isinstance(node, cst.Assign) or _is_the_record(node.value, write):
            continue
        for target in node.targets:
            if _keyed_by(target.target, variable):
                assert isinstance(target.target, cst.Subscript)
                found.append(SideStore(write.source, node, target.target.value, node.value))
    return found


def _is_the_record(value: cst.BaseExpression, write: RecordWrite) -> bool:
    """Whether ``value`` is the record the write found (its fields are this node's)."""
    fields = {id(f.value) for f in write.fields}
    if isinstance(value, cst.Dict):
        elements = [e.value for e in value.elements if isinstance(e, cst.DictElement)]
    elif isinstance(value, cst.Call):
        elements = [a.value for a in value.args]
    else:
        return False
    return any(id(element) in fields for element in elements)


def same_scope(store: SideStore, source: SourceFile, node: cst.CSTNode) -> bool:
    """Whether ``store``'s expression means the same object at ``node`` of ``source``:
    ``self.x`` inside the same class, a bare module name inside the same file."""
    if source.rel != store.source.rel:
        return False
    if isinstance(store.store, cst.Name):
        return any(
            isinstance(s, cst.SimpleStatementLine)
            and any(
                isinstance(small, cst.Assign | cst.AnnAssign) and _binds(small, store.store.value)
                for small in s.body
            )
            for s in source.module.body
        )
    root = store.store
    while isinstance(root, cst.Attribute):
        root = root.value
    if not (isinstance(root, cst.Name) and root.value == "self"):
        return False
    here = enclosing(source, node, (cst.ClassDef,))
    there = enclosing(store.source, store.assign, (cst.ClassDef,))
    return here is not None and here is there


def _binds(statement: cst.Assign | cst.AnnAssign, name: str) -> bool:
    targets = (
        [t.target for t in statement.targets]
        if isinstance(statement, cst.Assign)
        else [statement.target]
    )
    return any(isinstance(t, cst.Name) and t.value == name for t in targets)


def reads_of(tree: SourceTree, store: SideStore) -> list[str]:
    """Where the tree reads ``store`` by a key (``store.get(k)``, ``store[k]`` outside an
    assignment or ``del``): ``file:line`` of each, for a manual step."""
    found = []
    for source in tree.with_text(store.code):
        for node in walk(source.module):
            if _is_read(source, node, store.code):
                found.append(source.where(node))
    return found


def _code(node: cst.CSTNode) -> str:
    return cst.Module([]).code_for_node(node)


def _is_read(source: SourceFile, node: cst.CSTNode, code: str) -> bool:
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
        return node.func.attr.value == "get" and _code(node.func.value) == code
    if not isinstance(node, cst.Subscript) or _code(node.value) != code:
        return False
    return not isinstance(source.parent(node), cst.AssignTarget | cst.AugAssign | cst.Del)
