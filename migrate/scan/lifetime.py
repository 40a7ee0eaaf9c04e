"""Find the legacy access-token lifetime: the JWTs must live as long, and `status` waits
that long after the last opaque mint before it calls the hybrid period over.

Read from an assignment whose target names an access-token lifetime (``ACCESS_TOKEN_TTL``,
``self.access_token_lifetime``, one element of a tuple assignment), whose value is a
constant expression (``24 * 3600``, ``2 * HOUR`` with ``HOUR`` a module constant) or a
``timedelta(...)`` of constants; else from an ``expires_in`` constant in a token response.
Nothing found is reported, not guessed silently.

Constant expressions are folded from the syntax tree, never evaluated: only numbers,
``+ - * / // % **``, unary signs, parentheses and folded module constants, with every
intermediate value bounded, so ``10**10**10`` in a scanned file costs nothing.
"""

from __future__ import annotations

import math
import re

import libcst as cst

from migrate.scan.source import SourceTree
from migrate.scan.syntax import dotted, string_value, walk

_TTL_NAME = re.compile(r"access.*(ttl|lifetime|expir|lifespan|max_age)", re.IGNORECASE)
_SECONDS = {"weeks": 604800, "days": 86400, "hours": 3600, "minutes": 60, "seconds": 1}

Number = int | float
# Far above any token lifetime (about 31 700 years in seconds), far below a costly number.
MAX_VALUE = 10**12
_MAX_DIGITS = 20  # a longer literal is past MAX_VALUE anyway, and int() of it is not free


def seconds_of(expr: cst.BaseExpression, constants: dict[str, Number] | None = None) -> int | None:
    """The value of a constant duration expression, in seconds, or None."""
    if isinstance(expr, cst.Call) and (dotted(expr.func) or "").endswith("timedelta"):
        total = 0
        for arg in expr.args:
            unit = arg.keyword.value if arg.keyword else "days"
            amount = seconds_of(arg.value, constants)
            if unit not in _SECONDS or amount is None:
                return None
            total += amount * _SECONDS[unit]
        return total if 0 < total <= MAX_VALUE else None
    value = fold(expr, constants or {})
    return int(value) if value is not None and value > 0 else None


def fold(expr: cst.BaseExpression, constants: dict[str, Number]) -> Number | None:
    """The number a constant arithmetic expression stands for, or None for anything else
    (names not in ``constants``, calls, other operators, results past MAX_VALUE)."""
    value: Number | None = None
    if isinstance(expr, cst.Integer | cst.Float) and len(expr.value) <= _MAX_DIGITS:
        value = _literal(expr)
    elif isinstance(expr, cst.Name):
        value = constants.get(expr.value)
    elif isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus | cst.Plus):
        operand = fold(expr.expression, constants)
        value = (
            None
            if operand is None
            else -operand
            if isinstance(expr.operator, cst.Minus)
            else operand
        )
    elif isinstance(expr, cst.BinaryOperation):
        left, right = fold(expr.left, constants), fold(expr.right, constants)
        if left is not None and right is not None:
            value = _operate(expr.operator, left, right)
    if value is None or not math.isfinite(value) or abs(value) > MAX_VALUE:
        return None
    return value


def _literal(expr: cst.Integer | cst.Float) -> Number | None:
    try:
        return int(expr.value, 0) if isinstance(expr, cst.Integer) else float(expr.value)
    except ValueError:  # e.g. ``0777``, which libcst reads but Python 3 refuses
        return None


def _operate(operator: cst.BaseBinaryOp, left: Number, right: Number) -> Number | None:
    if isinstance(operator, cst.Add):
        return left + right
    if isinstance(operator, cst.Subtract):
        return left - right
    if isinstance(operator, cst.Multiply):
        return left * right  # both are at most MAX_VALUE: the product stays small
    if isinstance(operator, cst.Power):
        return _power(left, right)
    if right == 0 or not isinstance(operator, cst.Divide | cst.FloorDivide | cst.Modulo):
        return None
    if isinstance(operator, cst.Divide):
        return left / right
    return left // right if isinstance(operator, cst.FloorDivide) else left % right


def _power(base: Number, exponent: Number) -> Number | None:
    """``base ** exponent`` for a small non-negative integer exponent whose result stays
    within MAX_VALUE, checked before it is computed."""
    if not isinstance(exponent, int) or exponent < 0:
        return None
    if abs(base) > 1 and exponent * math.log10(abs(base)) > math.log10(MAX_VALUE):
        return None
    return base**exponent


def module_constants(module: cst.Module) -> dict[str, Number]:
    """Module-level ``NAME = <constant arithmetic>``, each folded with those before it."""
    constants: dict[str, Number] = {}
    for statement in module.body:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if isinstance(small, cst.Assign) and len(small.targets) == 1:
                target, value = small.targets[0].target, small.value
            elif isinstance(small, cst.AnnAssign) and small.value is not None:
                target, value = small.target, small.value
            else:
                continue
            if isinstance(target, cst.Name):
                folded = fold(value, constants)
                if folded is None:
                    constants.pop(target.value, None)
                else:
                    constants[target.value] = folded
    return constants


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
        constants = module_constants(source.module)
        for node in walk(source.module):
            for name, value in _assigned(node):
                if _TTL_NAME.search(name.split(".")[-1]) and (
                    seconds := seconds_of(value, constants)
                ):
                    return seconds, source.where(node)
            if isinstance(node, cst.DictElement) and string_value(node.key) == "expires_in":
                seconds = seconds_of(node.value, constants)
                if seconds and response is None:
                    response = seconds, source.where(node)
    return response
