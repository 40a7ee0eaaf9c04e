"""Find the legacy access-token lifetime: the JWTs must live as long, and `status` waits
that long after the last opaque mint before it calls the hybrid period over.

Read from an assignment whose target names an access-token lifetime (``ACCESS_TOKEN_TTL``,
``self.access_token_lifetime``, one element of a tuple assignment), whose value is a
constant expression (``24 * 3600``) or a ``timedelta(...)`` of constants; else from an
``expires_in`` constant in a token response. Nothing found is reported, not guessed
silently.
"""

from __future__ import annotations

import re

import libcst as cst

from migrate.scan.source import SourceTree
from migrate.scan.syntax import dotted, string_value, walk

_TTL_NAME = re.compile(r"access.*(ttl|lifetime|expir|lifespan|max_age)", re.IGNORECASE)
_ARITHMETIC = re.compile(r"^[\d\s+*()/-]+$")
_SECONDS = {"weeks": 604800, "days": 86400, "hours": 3600, "minutes": 60, "seconds": 1}


def seconds_of(expr: cst.BaseExpression) -> int | None:
    """The value of a constant duration expression, in seconds, or None."""
    code = cst.Module([]).code_for_node(expr)
    if _ARITHMETIC.match(code):
        try:
            value = eval(code, {"__builtins__": {}}, {})  # digits and operators only
        except (SyntaxError, ZeroDivisionError, ValueError):
            return None
        return int(value) if isinstance(value, int | float) and value > 0 else None
    if isinstance(expr, cst.Call) and (dotted(expr.func) or "").endswith("timedelta"):
        total = 0
        for arg in expr.args:
            unit = arg.keyword.value if arg.keyword else "days"
            amount = seconds_of(arg.value)
            if unit not in _SECONDS or amount is None:
                return None
            total += amount * _SECONDS[unit]
        return total or None
    return None


def _assigned(node: cst.CSTNode) -> list[tuple[str, cst.BaseExpression]]:
    """(name, value) pairs a node binds: assignments, keywords (``config.update(X=...)``)
    and string-keyed dict entries (``{"X": ...}``)."""
    if isinstance(node, cst.Arg) and node.keyword is not None:
        return [(node.keyword.value, node.value)]
    if isinstance(node, cst.DictElement):
        key = string_value(node.key)
        return [(key, node.value)] if key else []
    if not isinstance(node, cst.Assign | cst.AnnAssign) or node.value is None:
        return []
    target = node.targets[0].target if isinstance(node, cst.Assign) else node.target
    value = node.value
    if isinstance(target, cst.Tuple) and isinstance(value, cst.Tuple):
        pairs = zip(target.elements, value.elements, strict=False)
        return [(dotted(t.value) or "", v.value) for t, v in pairs]
    return [(dotted(target) or "", value)]


def access_lifetime(tree: SourceTree) -> tuple[int, str] | None:
    """(seconds, where) of the legacy access-token lifetime, or None when not found."""
    response: tuple[int, str] | None = None
    for source in tree.with_text("ttl", "TTL", "lifetime", "LIFETIME", "expires_in"):
        for node in walk(source.module):
            for name, value in _assigned(node):
                if _TTL_NAME.search(name.split(".")[-1]) and (seconds := seconds_of(value)):
                    return seconds, source.where(node)
            if isinstance(node, cst.DictElement) and string_value(node.key) == "expires_in":
                seconds = seconds_of(node.value)
                if seconds and response is None:
                    response = seconds, source.where(node)
    return response
