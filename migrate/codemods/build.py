"""Node builders the codemods share: a call of the runtime, a ``name=value`` argument."""

from __future__ import annotations

import libcst as cst

from migrate.runtime_api import PACKAGE

_NO_SPACE = cst.AssignEqual(
    whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
)


def keyword(name: str, value: cst.BaseExpression) -> cst.Arg:
    """``name=value``, spaced as PEP 8 asks for keyword arguments."""
    return cst.Arg(value, keyword=cst.Name(name), equal=_NO_SPACE)


def runtime_call(method: str, *args: cst.BaseExpression | cst.Arg) -> cst.Call:
    """``oauth_migration.<method>(args...)``; plain expressions become positional."""
    arguments = [a if isinstance(a, cst.Arg) else cst.Arg(a) for a in args]
    return cst.Call(func=cst.Attribute(cst.Name(PACKAGE), cst.Name(method)), args=arguments)


def runtime_name(method: str) -> str:
    """``oauth_migration.<method>``, as :func:`migrate.scan.syntax.dotted` spells a call."""
    return f"{PACKAGE}.{method}"
