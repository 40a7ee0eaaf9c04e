"""Does the token endpoint verify the PKCE ``code_verifier`` (RFC 7636 §4.6)?

The metadata may advertise ``code_challenge_methods_supported: ["S256"]`` only when it is
true: a client relies on it to protect its authorization code from interception. The
answer follows the data, not a function's name: the value read as ``code_verifier`` (a
form or JSON member, ``.get("code_verifier")``, a parameter or attribute of that name) is
traced through assignments (annotated ones and ``:=`` too); it is verified when a SHA-256
of it (``hashlib.sha256``, or a tree helper that hashes what it is given) takes part in a
comparison (``==``, ``!=``, ``hmac.compare_digest``), in the same function or in a tree
function the verifier is passed to (by the name it is defined or imported under).
Comparing the verifier itself with the challenge is the ``plain`` method, not S256.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import libcst as cst

from migrate.scan.source import SourceFile, SourceTree
from migrate.scan.syntax import dotted, names_in, parameters, string_value, walk

VERIFIER = "code_verifier"
_COMPARES = frozenset({"compare_digest"})
_HELPER_DEPTH = 2


@dataclass(frozen=True)
class PkceReading:
    """Where the verifier is read (``where``; None: never) and whether S256 is checked."""

    where: str | None
    verified: bool


def find_pkce(tree: SourceTree) -> PkceReading:
    functions = _functions(tree)
    hashers = {name for name, (_, f) in functions.items() if _calls_sha256(f)}
    first: str | None = None
    for source in tree.with_text(VERIFIER):
        for node in walk(source.module):
            if not isinstance(node, cst.FunctionDef):
                continue
            tainted = _verifier_names(node)
            if not tainted and not _reads_verifier(node.body):
                continue
            first = first or source.where(node)
            if _verifies(node, tainted, functions, hashers, _HELPER_DEPTH):
                return PkceReading(source.where(node), True)
    return PkceReading(first, False)


def _functions(tree: SourceTree) -> dict[str, tuple[SourceFile, cst.FunctionDef]]:
    """Every function and method of the tree files that hash something, by name."""
    found: dict[str, tuple[SourceFile, cst.FunctionDef]] = {}
    for source in tree.with_text("sha256", VERIFIER):
        for node in walk(source.module):
            if isinstance(node, cst.FunctionDef):
                found.setdefault(node.name.value, (source, node))
    # ``from .pkce_util import s256_matches as _matches``: calls use the name imported.
    for source in tree.with_text(VERIFIER):
        for node in walk(source.module):
            if isinstance(node, cst.ImportFrom) and not isinstance(node.names, cst.ImportStar):
                for alias in node.names:
                    original, local = dotted(alias.name), _asname(alias)
                    if local and original in found:
                        found.setdefault(local, found[original])
    return found


def _asname(alias: cst.ImportAlias) -> str | None:
    if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
        return alias.asname.name.value
    return None


def _bindings(node: cst.CSTNode) -> tuple[set[str], cst.BaseExpression] | None:
    """(the names bound, the value) of ``a = v``, ``a: T = v`` or ``(a := v)``."""
    if isinstance(node, cst.Assign):
        names = {t.target.value for t in node.targets if isinstance(t.target, cst.Name)}
        return names, node.value
    if isinstance(node, cst.AnnAssign) and node.value is not None:
        return ({node.target.value} if isinstance(node.target, cst.Name) else set()), node.value
    if isinstance(node, cst.NamedExpr) and isinstance(node.target, cst.Name):
        return {node.target.value}, node.value
    return None


def _calls_sha256(function: cst.FunctionDef) -> bool:
    return any(_is_sha256(n) for n in walk(function.body))


def _is_sha256(node: cst.CSTNode) -> bool:
    if not isinstance(node, cst.Call):
        return False
    name = dotted(node.func) or ""
    if name.split(".")[-1] == "sha256":
        return True
    # hashlib.new("sha256", ...)
    return name.endswith("new") and any(string_value(a.value) == "sha256" for a in node.args)


def _verifier_names(function: cst.FunctionDef) -> set[str]:
    """Names bound to the verifier: a parameter so named, or ``v = form["code_verifier"]``."""
    names = {p for p in parameters(function) if p == VERIFIER}
    for node in walk(function.body):
        bound = _bindings(node)
        if bound is not None and _reads_verifier(bound[1]):
            names |= bound[0]
    return names


def _carries(expr: cst.CSTNode, tainted: set[str]) -> bool:
    """``expr`` holds the verifier: a derived name, or the verifier read in place."""
    return bool(names_in(expr) & tainted) or _reads_verifier(expr)


def _reads_verifier(expr: cst.CSTNode) -> bool:
    for node in walk(expr):
        if isinstance(node, cst.SimpleString) and string_value(node) == VERIFIER:
            return True
        if isinstance(node, cst.Attribute) and node.attr.value == VERIFIER:
            return True
    return False


def _verifies(
    function: cst.FunctionDef,
    tainted: set[str],
    functions: dict[str, tuple[SourceFile, cst.FunctionDef]],
    hashers: set[str],
    depth: int,
) -> bool:
    tainted, hashed = _propagate(function, set(tainted), hashers)
    for operands in _comparisons(function):
        if any(_digest_of(o, tainted, hashed, hashers) for o in operands):
            return True
    if depth == 0:
        return False
    for call, callee in _calls_with(function, tainted, functions):
        params = _receiving(callee, call, tainted)
        if params and _verifies(callee, params, functions, hashers, depth - 1):
            return True
    return False


def _propagate(
    function: cst.FunctionDef, tainted: set[str], hashers: set[str]
) -> tuple[set[str], set[str]]:
    """Names derived from the verifier, and those among them that hold its digest."""
    hashed: set[str] = set()
    for node in walk(function.body):
        bound = _bindings(node)
        if bound is None or not _carries(bound[1], tainted | hashed):
            continue
        targets, value = bound
        if _digest_of(value, tainted, hashed, hashers):
            hashed |= targets
        tainted |= targets
    return tainted, hashed


def _digest_of(
    expr: cst.BaseExpression, tainted: set[str], hashed: set[str], hashers: set[str]
) -> bool:
    """``expr`` holds the verifier's SHA-256: a hashed name, or a hash call over it."""
    if names_in(expr) & hashed:
        return True
    for node in walk(expr):
        if (
            isinstance(node, cst.Call)
            and (_is_sha256(node) or (dotted(node.func) or "").split(".")[-1] in hashers)
            and _carries(node, tainted)
        ):
            return True
    return False


def _comparisons(function: cst.FunctionDef) -> Iterator[list[cst.BaseExpression]]:
    for node in walk(function.body):
        if isinstance(node, cst.Comparison) and any(
            isinstance(c.operator, cst.Equal | cst.NotEqual) for c in node.comparisons
        ):
            yield [node.left, *(c.comparator for c in node.comparisons)]
        elif isinstance(node, cst.Call) and (dotted(node.func) or "").split(".")[-1] in _COMPARES:
            yield [a.value for a in node.args]


def _calls_with(
    function: cst.FunctionDef,
    tainted: set[str],
    functions: dict[str, tuple[SourceFile, cst.FunctionDef]],
) -> Iterator[tuple[cst.Call, cst.FunctionDef]]:
    """Calls handing the verifier to a tree function whose answer is used: a check called
    as a bare statement (``verify_pkce(v, c)``, its result dropped) verifies nothing."""
    dropped = {
        id(s.value) for s in walk(function.body) if isinstance(s, cst.Expr)
    }  # fmt: skip
    for node in walk(function.body):
        if id(node) in dropped:
            continue
        if isinstance(node, cst.Call) and _carries(node, tainted):
            name = (dotted(node.func) or "").split(".")[-1]
            if name in functions and functions[name][1] is not function:
                yield node, functions[name][1]


def _receiving(callee: cst.FunctionDef, call: cst.Call, tainted: set[str]) -> set[str]:
    """The callee's parameters that receive the verifier (by position or keyword)."""
    params = [p for p in parameters(callee) if p not in ("self", "cls")]
    received: set[str] = set()
    for index, arg in enumerate(call.args):
        if not _carries(arg.value, tainted):
            continue
        if arg.keyword is not None:
            received.add(arg.keyword.value)
        elif index < len(params):
            received.add(params[index])
    return received
