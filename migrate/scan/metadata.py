"""Find the RFC 8414 metadata document the legacy server builds, and where it is complete.

The document is recognised by its content, not by names: a dict literal with an ``issuer``
and an ``authorization_endpoint`` or ``token_endpoint`` key. What the migration wraps is
the expression where the whole document exists: the literal itself when it is returned,
passed to a response helper or bound to a module constant; the ``return name`` of a
function that builds the dict in several statements. A document written as keyword
arguments to a response helper (``jsonify(issuer=..., ...)``) is a manual step;
``dict(issuer=..., ...)`` counts as a literal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from migrate import runtime_api
from migrate.scan.findings import ManualStep
from migrate.scan.source import SourceFile, SourceTree
from migrate.scan.syntax import dotted, enclosing_function, string_value, walk

ENDPOINT_KEYS = frozenset({"authorization_endpoint", "token_endpoint"})
WRAPPER = runtime_api.METADATA


@dataclass
class MetadataProducer:
    source: SourceFile
    literal: cst.Dict | cst.Call  # a call only for a keyword document wrapped by hand
    wrap: list[cst.BaseExpression]
    shape: str
    issuer: cst.BaseExpression | None
    keys: set[str] = field(default_factory=set)
    migrated: bool = False

    @property
    def where(self) -> str:
        return self.source.where(self.literal)

    @property
    def function(self) -> cst.FunctionDef | None:
        return enclosing_function(self.source, self.literal)


def literal_keys(node: cst.Dict) -> dict[str, cst.BaseExpression]:
    keys: dict[str, cst.BaseExpression] = {}
    for element in node.elements:
        if isinstance(element, cst.DictElement):
            key = string_value(element.key)
            if key is not None:
                keys[key] = element.value
    return keys


def _is_metadata(node: cst.CSTNode) -> bool:
    if not isinstance(node, cst.Dict):
        return False
    keys = literal_keys(node)
    return "issuer" in keys and not ENDPOINT_KEYS.isdisjoint(keys)


def keyword_keys(node: cst.Call) -> dict[str, cst.BaseExpression]:
    return {a.keyword.value: a.value for a in node.args if a.keyword is not None}


def _is_keyword_metadata(node: cst.CSTNode) -> bool:
    """``dict(issuer=..., token_endpoint=...)`` or ``jsonify(issuer=..., ...)``."""
    if not isinstance(node, cst.Call):
        return False
    keys = keyword_keys(node)
    return "issuer" in keys and not ENDPOINT_KEYS.isdisjoint(keys)


def _is_dict_call(node: cst.CSTNode) -> bool:
    return isinstance(node, cst.Call) and dotted(node.func) == "dict"


def _keyword_manual(source: SourceFile, node: cst.Call) -> ManualStep:
    callee = dotted(node.func) or source.code(node.func)
    if callee == "dict":
        todo = "wrap the finished dict: `oauth_migration.authorization_server_metadata(dict(...))`"
    else:
        todo = (
            f"build the document as a dict literal and serve `{callee}("
            'oauth_migration.authorization_server_metadata({"issuer": ..., ...}))`'
        )
    return ManualStep(
        source.where(node),
        f"an RFC 8414 metadata dict literal; found the document as keyword arguments "
        f"to `{callee}(...)`",
        todo,
        "Manual steps: metadata",
    )


def _is_wrapped(source: SourceFile, node: cst.CSTNode) -> bool:
    parent = source.parent(node)
    if isinstance(parent, cst.Arg):
        call = source.parent(parent)
        name = dotted(call.func) if isinstance(call, cst.Call) else None
        return name is not None and name.split(".")[-1] == WRAPPER
    return False


def _returns_of(function: cst.FunctionDef, name: str) -> tuple[list[cst.BaseExpression], bool]:
    """The ``return name`` values in ``function``, and whether one is already wrapped."""
    found: list[cst.BaseExpression] = []
    wrapped = False
    for node in walk(function.body):
        if not isinstance(node, cst.Return) or node.value is None:
            continue
        value = node.value
        if isinstance(value, cst.Name) and value.value == name:
            found.append(value)
        elif isinstance(value, cst.Call) and (dotted(value.func) or "").endswith(WRAPPER):
            first = value.args[0].value if value.args else None
            wrapped = wrapped or (isinstance(first, cst.Name) and first.value == name)
    return found, wrapped


def _placement(
    source: SourceFile, literal: cst.Dict | cst.Call
) -> tuple[str, list[cst.BaseExpression]]:
    parent = source.parent(literal)
    if isinstance(parent, cst.Return):
        return "function-return", [literal]
    if isinstance(parent, cst.Arg):
        return "inline-argument", [literal]
    if isinstance(parent, cst.Assign | cst.AnnAssign):
        target = parent.targets[0].target if isinstance(parent, cst.Assign) else parent.target
        function = enclosing_function(source, literal)
        if function is None:
            return "module-constant", [literal]
        if isinstance(target, cst.Name):
            returns, wrapped = _returns_of(function, target.value)
            if wrapped:
                return "wrapped", []
            if returns:
                return "built-then-returned", returns
    return "unsupported", []


def find_metadata(tree: SourceTree) -> tuple[list[MetadataProducer], list[ManualStep]]:
    producers: list[MetadataProducer] = []
    manual: list[ManualStep] = []
    for source in tree.with_text("authorization_endpoint", "token_endpoint"):
        for node in walk(source.module):
            if _is_keyword_metadata(node) and not _is_dict_call(node):
                assert isinstance(node, cst.Call)
                keys = keyword_keys(node)
                if _is_wrapped(source, node):
                    producers.append(
                        MetadataProducer(
                            source, node, [], "wrapped", keys["issuer"], set(keys), True
                        )
                    )
                else:
                    manual.append(_keyword_manual(source, node))
                continue
            if _is_keyword_metadata(node):
                assert isinstance(node, cst.Call)
                keys = keyword_keys(node)  # dict(issuer=..., ...): the same as a literal
            elif isinstance(node, cst.Dict) and _is_metadata(node):
                keys = literal_keys(node)
            else:
                continue
            if _is_wrapped(source, node):
                producers.append(
                    MetadataProducer(source, node, [], "wrapped", keys["issuer"], set(keys), True)
                )
                continue
            shape, wrap = _placement(source, node)
            if shape == "wrapped":
                producers.append(
                    MetadataProducer(source, node, [], shape, keys["issuer"], set(keys), True)
                )
                continue
            if not wrap:
                manual.append(
                    ManualStep(
                        source.where(node),
                        "an RFC 8414 metadata dict that is neither returned, passed to a "
                        "response, nor a module constant",
                        "pass the finished dict through "
                        "`oauth_migration.authorization_server_metadata(...)` before serving it",
                        "Manual steps: metadata",
                    )
                )
                continue
            producers.append(MetadataProducer(source, node, wrap, shape, keys["issuer"], set(keys)))
    return producers, manual
