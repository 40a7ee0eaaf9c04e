"""Where the access token of a token response comes from, followed through the data.

The token response (RFC 6749 §5.1) names its access token: the value of the
``access_token`` member, whether written as a dict literal, ``dict(...)``, keywords to
``jsonify(...)``, a response model (``TokenResponse(access_token=...)``) or
``JSONResponse({...})``. That value is followed back, whatever the names on the way:
through local assignments (tuple unpacking too), ``await``, attributes and keys of a record
built in the same function (``grant.token`` of ``grant = Grant(token=...)``), and the
returns of functions defined anywhere in the tree, until it reaches what makes it:

- a fresh random value with its encoding (``secrets.token_hex(16)``, a method chain such
  as ``base64.urlsafe_b64encode(os.urandom(32)).decode("ascii").rstrip("=")``, a prefix
  or an f-string around it): an opaque mint;
- a call of a function that only returns such values (``_random_token()``,
  ``generate_token(32)`` in another module): the mint is that call site, since the
  function may make refresh tokens and client secrets too;
- a signed, self-contained token (``jwt.encode``, ``hmac``, an ``itsdangerous``
  serializer's ``dumps``): nothing opaque to migrate.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass

import libcst as cst

from migrate.scan.source import SourceFile, SourceTree
from migrate.scan.syntax import (
    dotted,
    imported_names,
    parameters,
    qualified,
    string_value,
    walk,
)

PRIMITIVES = frozenset(
    {
        "secrets.token_urlsafe", "secrets.token_hex", "secrets.token_bytes", "os.urandom",
        "uuid.uuid4", "uuid.uuid1",
    }
)  # fmt: skip
# Calls that only encode random bytes: the mint is what they return.
ENCODERS = re.compile(
    r"^(base64\.\w+|binascii\.(hexlify|b2a_hex|b2a_base64)|str|bytes|codecs\.encode)$"
)
# Calls whose result carries its own claims and signature: a token that needs no lookup.
SIGNERS = re.compile(r"(^|\.)(jwt\.encode|jws\.sign|JsonWebToken\.encode)$|^hmac\.(new|digest)$")
SERIALIZER_MODULE = "itsdangerous"
RANDOM = "random"
SELF_CONTAINED = "self-contained"
# How many calls deep a value is followed: far enough for a route calling a service
# calling a helper, short enough that a recursive helper cannot loop.
DEPTH = 6


@dataclass(frozen=True)
class Origin:
    """What makes an access token: ``expression`` in ``source`` (inside ``function``)."""

    source: SourceFile
    expression: cst.BaseExpression
    function: cst.FunctionDef | None
    kind: str  # RANDOM or SELF_CONTAINED
    via: str = ""  # the signing call, for a self-contained token
    # The functions entered on the way, caller first (``issue`` of ``issue(grant)``).
    through: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        return self.source.where(self.expression)


def access_value(node: cst.CSTNode) -> cst.BaseExpression | None:
    """The value given for an ``access_token`` response member, if ``node`` gives one:
    a dict literal's key, a keyword (``dict``, ``jsonify``, a response model, ``.update``)
    or an item assignment."""
    if isinstance(node, cst.DictElement) and string_value(node.key) == "access_token":
        return node.value
    if isinstance(node, cst.Arg) and node.keyword and node.keyword.value == "access_token":
        return node.value
    if isinstance(node, cst.Assign) and any(_names_access_key(t.target) for t in node.targets):
        return node.value  # body["access_token"] = value
    return None


def _names_access_key(target: cst.BaseExpression) -> bool:
    if not isinstance(target, cst.Subscript) or len(target.slice) != 1:
        return False
    index = target.slice[0].slice
    return isinstance(index, cst.Index) and string_value(index.value) == "access_token"


def climb(
    source: SourceFile, node: cst.BaseExpression, imports: dict[str, str]
) -> cst.BaseExpression:
    """The largest expression around a random value that still only encodes it."""
    current: cst.BaseExpression = node
    while True:
        parent = source.parent(current)
        if isinstance(parent, cst.Attribute | cst.BinaryOperation):
            current = parent
        elif isinstance(parent, cst.Call) and parent.func is current:
            current = parent  # a method call on the value: .hex(), .decode(), .rstrip(...)
        elif isinstance(parent, cst.FormattedStringExpression):
            outer = source.parent(parent)
            assert isinstance(outer, cst.FormattedString)
            current = outer
        elif isinstance(parent, cst.Arg):
            call = source.parent(parent)
            if not isinstance(call, cst.Call) or not ENCODERS.match(
                qualified(call.func, imports) or ""
            ):
                return current
            current = call
        else:
            return current


def _strip(expr: cst.BaseExpression) -> cst.BaseExpression:
    while isinstance(expr, cst.Await):
        expr = expr.expression
    return expr


def _last(name: str) -> str:
    return name.rsplit(".", 1)[-1]


class TokenFlow:
    """The origins of the tree's access tokens; one instance per scan (it memoises)."""

    def __init__(self, tree: SourceTree) -> None:
        self.tree = tree
        self._definitions: dict[str, list[tuple[SourceFile, cst.FunctionDef]]] = {}
        self._random: dict[str, bool] = {}
        self._busy: set[tuple[int, str]] = set()  # local names being followed (x = f(x))
        self._entered: dict[str, set[int]] = {}  # function -> the traced calls of it
        # id(scope) -> (scope, name -> its bindings): keyed by id, as the node index is
        # (a node's own __hash__ is a Python call).
        self._scopes: dict[int, tuple[cst.CSTNode, dict[str, list[Binding]]]] = {}

    def _bound(self, scope: cst.CSTNode, name: str) -> list[Binding]:
        """The bindings of ``name`` in ``scope``, from one walk of each scope: a walk
        per name asked made a module's cost grow with the square of its size (issue 13)."""
        entry = self._scopes.get(id(scope))
        if entry is None or entry[0] is not scope:
            entry = (scope, _binding_index(scope))
            self._scopes[id(scope)] = entry
        return list(entry[1].get(name, ()))

    def origins(self) -> list[Origin]:
        found: dict[int, Origin] = {}
        for source, function, value in self._access_values():
            for origin in self.trace(source, function, value):
                found.setdefault(id(origin.expression), origin)
        return list(found.values())

    def _access_values(
        self,
    ) -> Iterator[tuple[SourceFile, cst.FunctionDef, cst.BaseExpression]]:
        for source in self.tree.with_text("access_token"):
            for function in (n for n in walk(source.module) if isinstance(n, cst.FunctionDef)):
                for node in walk(function.body):
                    value = access_value(node)
                    if value is not None and _innermost(source, node) is function:
                        yield source, function, value

    def trace(
        self,
        source: SourceFile,
        function: cst.FunctionDef,
        expr: cst.BaseExpression,
        depth: int = DEPTH,
        index: int | None = None,
    ) -> list[Origin]:
        """Origins of ``expr`` (element ``index`` of it, for a tuple) in ``function``."""
        expr = _strip(expr)
        if depth <= 0:
            return []
        if index is not None:
            if isinstance(expr, cst.Tuple | cst.List) and index < len(expr.elements):
                return self.trace(source, function, expr.elements[index].value, depth)
            if isinstance(expr, cst.Name | cst.Call):
                return self._follow(source, function, expr, depth, index)
            return []
        if self.random_whole(source, function, expr):
            return [Origin(source, expr, function, RANDOM)]
        signer = self.signer(source, function, expr, depth)
        if signer:
            return [Origin(source, expr, function, SELF_CONTAINED, signer)]
        return self._follow(source, function, expr, depth, None)

    def _follow(
        self,
        source: SourceFile,
        function: cst.FunctionDef,
        expr: cst.BaseExpression,
        depth: int,
        index: int | None,
    ) -> list[Origin]:
        if isinstance(expr, cst.Name):
            found = []
            for value, position in self._bound(function, expr.value):
                at = position if index is None else index if position is None else None
                if position is not None and index is not None:
                    continue  # a tuple element unpacked from a tuple element: not followed
                found += self.trace(source, function, value, depth - 1, at)
            if not found and index is None and expr.value in parameters(function):
                found = self._from_callers(function, expr.value, depth)
            return found
        if isinstance(expr, cst.Call):
            return self._returns_of(source, expr, depth, index)
        if isinstance(expr, cst.Attribute | cst.Subscript):
            return self._member(source, function, expr, depth)
        return []

    def _member(
        self, source: SourceFile, function: cst.FunctionDef, expr: cst.BaseExpression, depth: int
    ) -> list[Origin]:
        """``record.token``: the field of a record built here, or returned by a call."""
        owned = _member_of(expr)
        if owned is None:
            return []
        owner, member = owned
        found = []
        for value, position in self._bound(function, owner):
            value = _strip(value)
            given = _field(value, member) if position is None else None
            if given is not None:
                found += self.trace(source, function, given, depth - 1)
            elif position is None and isinstance(value, cst.Call):
                found += self._returned_member(source, value, member, depth)
        return found

    def _returned_member(
        self, source: SourceFile, call: cst.Call, member: str, depth: int
    ) -> list[Origin]:
        """``grant = issue(...)``, then ``grant.token``: the field of the record that
        ``issue`` returns (built in its return, or bound to the name it returns)."""
        name = _last(dotted(call.func) or "")
        found = []
        for where, definition in self.definitions(name, prefer=source) if name else []:
            for node in _own_returns(where, definition):
                assert node.value is not None
                returned = _strip(node.value)
                records = [returned]
                if isinstance(returned, cst.Name):
                    bound = self._bound(definition, returned.value)
                    records = [_strip(v) for v, i in bound if i is None]
                for record in records:
                    given = _field(record, member)
                    if given is not None:
                        found += self.trace(where, definition, given, depth - 1)
        if found:
            self._entered.setdefault(name, set()).add(id(call))
        return [dataclasses.replace(o, through=(name, *o.through)) for o in found]

    def _returns_of(
        self, source: SourceFile, call: cst.Call, depth: int, index: int | None
    ) -> list[Origin]:
        name = dotted(call.func)
        if name is None:
            return []
        found = []
        for where, definition in self.definitions(_last(name), prefer=source):
            for node in _own_returns(where, definition):
                assert node.value is not None
                found += self.trace(where, definition, node.value, depth - 1, index)
        if found:
            self._entered.setdefault(_last(name), set()).add(id(call))
        return [dataclasses.replace(o, through=(_last(name), *o.through)) for o in found]

    def _from_callers(self, function: cst.FunctionDef, name: str, depth: int) -> list[Origin]:
        """A parameter (``def token_response(access, refresh)``): the argument each
        caller in the tree passes for it, followed in the caller."""
        params = function.params
        positional = [p.name.value for p in (*params.posonly_params, *params.params)]
        if positional[:1] in (["self"], ["cls"]):
            positional = positional[1:]  # called as obj.method(...): no argument for it
        callee = function.name.value
        found: list[Origin] = []
        for source in self.tree.with_text(f"{callee}("):
            for call in walk(source.module):
                if not isinstance(call, cst.Call) or _last(dotted(call.func) or "") != callee:
                    continue
                caller = _innermost(source, call)
                argument = _argument(call, name, positional)
                if caller is not None and argument is not None:
                    found += self.trace(source, caller, argument, depth - 1)
        return found

    def shared(self, origin: Origin) -> str:
        """The function the origin was reached through that is also called where its
        result is not followed to an ``access_token`` (a refresh token, a client secret):
        rewriting the mint inside it would change those too. ``""`` when there is none."""
        for name in origin.through:
            pattern = re.compile(rf"(?<![\w.])(?:[\w.]*\.)?{re.escape(name)}\s*\(")
            calls = sum(
                len(pattern.findall(s.text)) - s.text.count(f"def {name}(")
                for s in self.tree.with_text(f"{name}(")
            )
            if calls > len(self._entered.get(name, ())):
                return name
        return ""

    def definitions(
        self, name: str, prefer: SourceFile | None = None
    ) -> list[tuple[SourceFile, cst.FunctionDef]]:
        """Functions called ``name`` in the tree; only those of ``prefer`` when it has one."""
        if name not in self._definitions:
            found = []
            pattern = re.compile(rf"def\s+{re.escape(name)}\s*\(")
            for source in self.tree.with_text(f"def {name}"):
                if not pattern.search(source.text):
                    continue
                found += [
                    (source, n)
                    for n in walk(source.module)
                    if isinstance(n, cst.FunctionDef) and n.name.value == name
                ]
            self._definitions[name] = found
        every = self._definitions[name]
        local = [d for d in every if d[0] is prefer]
        return local or every

    def random_function(self, name: str) -> bool:
        """Whether every function called ``name`` returns only fresh random values."""
        if name not in self._random:
            self._random[name] = False  # a recursive helper is not taken for random
            definitions = self.definitions(name)
            self._random[name] = bool(definitions) and all(
                self._returns_random(source, function) for source, function in definitions
            )
        return self._random[name]

    def _returns_random(self, source: SourceFile, function: cst.FunctionDef) -> bool:
        # Every return of its own: a bare ``return`` makes it a function that may give None.
        returns = [
            n
            for n in walk(function.body)
            if isinstance(n, cst.Return) and _innermost(source, n) is function
        ]
        return bool(returns) and all(
            r.value is not None and self._random_value(source, function, _strip(r.value))
            for r in returns
        )

    def _random_value(
        self, source: SourceFile, function: cst.FunctionDef, expr: cst.BaseExpression
    ) -> bool:
        """``expr`` is random as a whole, or a local name every binding of which is and
        that nothing but a return reads: a function that also stores the value (its
        record written beside it) is the mint's own function, not a helper."""
        if isinstance(expr, cst.Name):
            bound = self._bound(function, expr.value)
            uses = sum(
                1 for n in walk(function.body) if isinstance(n, cst.Name) and n.value == expr.value
            )
            returned = sum(
                1
                for r in _own_returns(source, function)
                if isinstance(r.value, cst.Name) and r.value.value == expr.value
            )
            return (
                bool(bound)
                and uses == len(bound) + returned
                and all(
                    position is None and self.random_whole(source, function, _strip(value))
                    for value, position in bound
                )
            )
        return self.random_whole(source, function, expr)

    def random_whole(
        self, source: SourceFile, function: cst.FunctionDef | None, expr: cst.BaseExpression
    ) -> bool:
        """Whether ``expr`` is, as a whole, a fresh random value with its encoding."""
        imports = imported_names(source.module)
        # The climb first: it is a few parent lookups, a seed may parse other files.
        return any(
            climb(source, node, imports) is expr
            and self._is_seed(source, function, node, imports, expr)
            for node in walk(expr)
            if isinstance(node, cst.Call | cst.Name)
        )

    def _is_seed(
        self,
        source: SourceFile,
        function: cst.FunctionDef | None,
        node: cst.CSTNode,
        imports: dict[str, str],
        within: cst.BaseExpression,
    ) -> bool:
        """A random primitive, a call of a random helper, or a local name bound to one."""
        if isinstance(node, cst.Call):
            name = qualified(node.func, imports) or ""
            return name in PRIMITIVES or (bool(name) and self.random_function(_last(name)))
        if not isinstance(node, cst.Name) or function is None or node is within:
            return False
        key = (id(function), node.value)
        if key in self._busy:
            return False
        bound = [v for v, position in self._bound(function, node.value) if position is None]
        self._busy.add(key)
        try:
            return len(bound) == 1 and self.random_whole(source, function, _strip(bound[0]))
        finally:
            self._busy.discard(key)

    def signer(
        self,
        source: SourceFile,
        function: cst.FunctionDef,
        expr: cst.BaseExpression,
        depth: int = 2,
    ) -> str:
        """The signing call that makes ``expr`` a self-contained token, or ``""``."""
        imports = imported_names(source.module)
        for node in walk(expr):
            if isinstance(node, cst.Call):
                name = qualified(node.func, imports) or ""
                if SIGNERS.search(name):
                    return name
                if _last(name) == "dumps" and self._serializer(source, node, function):
                    return f"{SERIALIZER_MODULE} {dotted(node.func)}"
            elif isinstance(node, cst.Name) and depth > 0 and node is not expr:
                for value, position in self._bound(function, node.value):
                    if position is None:
                        found = self.signer(source, function, _strip(value), depth - 1)
                        if found:
                            return found
        return ""

    def _serializer(self, source: SourceFile, call: cst.Call, function: cst.FunctionDef) -> bool:
        """``s.dumps(...)`` where ``s`` is an itsdangerous serializer (module or local)."""
        assert isinstance(call.func, cst.Attribute)
        owner = dotted(call.func.value)
        if owner is None:
            return False
        imports = imported_names(source.module)
        if (qualified(call.func.value, imports) or "").startswith(SERIALIZER_MODULE):
            return True
        scopes: list[cst.CSTNode] = [function, source.module]
        for scope in scopes:
            for value, _ in self._bound(scope, _last(owner)):
                if isinstance(value, cst.Call):
                    made = qualified(value.func, imports) or ""
                    if made.startswith(SERIALIZER_MODULE):
                        return True
        return False


def _argument(call: cst.Call, name: str, positional: list[str]) -> cst.BaseExpression | None:
    """The value ``call`` passes for parameter ``name`` (by keyword or position)."""
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg.value
    plain = [a for a in call.args if a.keyword is None and not a.star]
    where = positional.index(name) if name in positional else -1
    return plain[where].value if 0 <= where < len(plain) else None


def _innermost(source: SourceFile, node: cst.CSTNode) -> cst.FunctionDef | None:
    current = source.parent(node)
    while current is not None and not isinstance(current, cst.FunctionDef):
        current = source.parent(current)
    return current if isinstance(current, cst.FunctionDef) else None


def _own_returns(source: SourceFile, function: cst.FunctionDef) -> list[cst.Return]:
    """The ``return <value>`` statements of ``function`` itself, not of nested functions."""
    return [
        n
        for n in walk(function.body)
        if isinstance(n, cst.Return) and n.value is not None and _innermost(source, n) is function
    ]


# A value assigned to a name: (value, None) for ``name = value``, (value, i) for
# ``a, name = value`` (``name`` is element ``i`` of it).
Binding = tuple[cst.BaseExpression, int | None]


def _binding_index(scope: cst.CSTNode) -> dict[str, list[Binding]]:
    """Every name assigned in ``scope`` -> its bindings, in the order of the source."""
    index: dict[str, list[Binding]] = {}
    for node in walk(scope):
        if isinstance(node, cst.Assign):
            for target in node.targets:
                _index_target(index, target.target, node.value)
        elif isinstance(node, cst.AnnAssign | cst.NamedExpr) and node.value is not None:
            _index_target(index, node.target, node.value)
    return index


def _index_target(
    index: dict[str, list[Binding]], target: cst.BaseExpression, value: cst.BaseExpression
) -> None:
    if isinstance(target, cst.Name):
        index.setdefault(target.value, []).append((value, None))
    elif isinstance(target, cst.Tuple | cst.List):
        for i, element in enumerate(target.elements):
            if isinstance(element.value, cst.Name):
                index.setdefault(element.value.value, []).append((value, i))


def _member_of(expr: cst.BaseExpression) -> tuple[str, str] | None:
    """(record, field) of ``record.field`` or ``record["field"]``."""
    if isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name):
        return expr.value.value, expr.attr.value
    if (
        isinstance(expr, cst.Subscript)
        and isinstance(expr.value, cst.Name)
        and len(expr.slice) == 1
        and isinstance(expr.slice[0].slice, cst.Index)
    ):
        key = string_value(expr.slice[0].slice.value)
        return None if key is None else (expr.value.value, key)
    return None


def _field(record: cst.BaseExpression, member: str) -> cst.BaseExpression | None:
    """The value ``Record(member=...)`` or ``{"member": ...}`` gives the field."""
    if isinstance(record, cst.Call):
        for arg in record.args:
            if arg.keyword is not None and arg.keyword.value == member:
                return arg.value
    if isinstance(record, cst.Dict):
        for element in record.elements:
            if isinstance(element, cst.DictElement) and string_value(element.key) == member:
                return element.value
    return None
