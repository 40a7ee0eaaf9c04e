"""Find the bearer gate: the one lookup that turns the presented token into a record.

Gates differ (a middleware, a FastAPI dependency, a Flask decorator or hook), but each
reads the Authorization header (or ``HTTPBearer`` credentials), then looks the token up:
a call, a dict ``.get`` or subscript, or an SQL query with the token as a parameter,
sometimes split in two statements (``cur = db.execute(...)``; ``row = cur.fetchone()``).
The finder takes the first such lookup in a function that handles bearer tokens, whose
result the function then tests (``if record is None``) or whose ``KeyError`` it catches.
The outermost lookup in the gate is wrapped, not the store's own function, so legacy
clean-up (dropping expired entries) stays on the legacy path. The token may also come
from a helper that takes it out of the header (``bearer_token(request)``, or
``Depends(bearer_token)``). A gate that checks its token some other way (``token in
VALID``, an untested ``...fetchone()[0]``, a walrus) is a manual step at that line; HTTP
Basic (a token endpoint authenticating its client) is no bearer gate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import libcst as cst

from migrate import runtime_api
from migrate.scan.findings import ManualStep
from migrate.scan.source import SourceFile, SourceTree, children
from migrate.scan.syntax import dotted, names_in, string_value, walk

RESOLVE_CALLS = frozenset({runtime_api.RESOLVE, runtime_api.RESOLVE_ASYNC})
_NOT_LOOKUPS = re.compile(
    r"^(len|str|bytes|int|bool|isinstance|print|hmac\.\w+|secrets\.compare_digest|log\w*\.\w+|"
    r"logger\.\w+|.*\.(strip|lstrip|rstrip|partition|rpartition|split|rsplit|startswith|"
    r"endswith|removeprefix|replace|lower|upper|encode|decode))$"
)
_SQL = re.compile(r"^\s*select\b", re.IGNORECASE)


@dataclass
class Lookup:
    """``target = [await] expression`` where ``argument`` carries the bearer token."""

    statement: cst.SimpleStatementLine
    target: cst.Name | None  # None: ``return <lookup>``, the result handed back untested
    expression: cst.BaseExpression
    argument: cst.BaseExpression
    awaited: bool
    raises: str | None = None  # the exception the legacy code catches for an unknown token
    cursor: cst.SimpleStatementLine | None = None  # first half of a two-statement SQL lookup
    # Locals the lookup reads, bound to accessors (``db = get_db()``): the lookup is kept
    # for introspection, which runs in another request, so they are read afresh there.
    accessors: dict[str, cst.BaseExpression] = field(default_factory=dict)
    # The gate is a coroutine (an SDK provider's ``load_access_token``): the runtime is
    # awaited (``resolve_async``) even when the lookup itself is not.
    asynchronous: bool = False
    # Parameters the lookup reads that the framework fills per request (``db:
    # Annotated[Connection, Depends(get_db)]``), bound to the dependency: out of the request
    # (introspection) the first request's resource is closed, so the lookup opens its own.
    dependencies: dict[str, cst.BaseExpression] = field(default_factory=dict)


@dataclass
class BearerGate:
    source: SourceFile
    function: cst.FunctionDef
    lookup: Lookup | None
    migrated: bool = False

    @property
    def where(self) -> str:
        node = self.lookup.statement if self.lookup else self.function
        return self.source.where(node)


def _words(function: cst.FunctionDef) -> str:
    """The function's names, attribute names and string literals, lower-cased: what its
    code mentions, without generating its code (a finder runs this on every function)."""
    parts = []
    for node in walk(function):
        if isinstance(node, cst.Name):
            parts.append(node.value)
        elif isinstance(node, cst.Attribute):
            parts.append("." + node.attr.value)
        elif isinstance(node, cst.SimpleString):
            parts.append(node.value)
    return " ".join(parts).lower()


def _handles_bearer(source: SourceFile, function: cst.FunctionDef, tokens: set[str]) -> bool:
    words = _words(function)
    if ".credentials" in words or _checks_scheme(function, "bearer"):
        return True
    if _reads_basic(function, tokens):
        return False  # client authentication at a token endpoint, an admin console
    return "bearer" in words or "authorization" in words


def _checks_scheme(function: cst.FunctionDef, scheme: str) -> bool:
    """``"Bearer"`` compared or cut off the header (not merely written, as a token endpoint
    writes ``"token_type": "Bearer"``)."""
    for node in walk(function.body):
        if isinstance(node, cst.Comparison):
            operands = [node.left, *(c.comparator for c in node.comparisons)]
        elif isinstance(node, cst.Call) and (
            dotted(node.func) == "len"
            or isinstance(node.func, cst.Attribute)
            and node.func.attr.value in _STRING_OPS | {"startswith"}
        ):
            operands = [a.value for a in node.args]
        else:
            continue
        if any((string_value(e) or "").strip().lower() == scheme for e in operands):
            return True
    return False


def _reads_basic(function: cst.FunctionDef, tokens: set[str]) -> bool:
    """HTTP Basic: the scheme checked, or ``.username``/``.password`` read off the header."""
    if _checks_scheme(function, "basic"):
        return True
    return any(
        isinstance(node, cst.Attribute)
        and node.attr.value in ("username", "password")
        and isinstance(node.value, cst.Name)
        and node.value.value in tokens
        for node in walk(function.body)
    )


_HEADER_KEYS = ("authorization", "http_authorization")


def _header_name(expr: cst.BaseExpression) -> str:
    """A header name as text: ASGI scopes carry them as bytes (``b"authorization"``)."""
    if isinstance(expr, cst.SimpleString) and isinstance(expr.evaluated_value, bytes):
        return expr.evaluated_value.decode("latin-1").lower()
    return (string_value(expr) or "").lower()


def _reads_header(value: cst.BaseExpression) -> bool:
    """``creds.credentials``, ``headers.get("Authorization")``, ``h["Authorization"]``."""
    if isinstance(value, cst.Attribute):
        return value.attr.value in ("credentials", "authorization")
    if isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and value.args:
        header = _header_name(value.args[0].value)
        return value.func.attr.value == "get" and header in _HEADER_KEYS
    if isinstance(value, cst.Subscript) and len(value.slice) == 1:
        index = value.slice[0].slice
        key = _header_name(index.value) if isinstance(index, cst.Index) else ""
        return key in _HEADER_KEYS
    return False


_STRING_OPS = frozenset(
    {"strip", "lstrip", "rstrip", "partition", "rpartition", "split", "rsplit",
     "removeprefix", "replace", "lower", "decode", "get"}
)  # fmt: skip


def _extracts(
    value: cst.BaseExpression, names: set[str], extractors: frozenset[str] = frozenset()
) -> bool:
    """Whether ``value`` only takes the token out of the header (no lookup yet)."""
    if _reads_header(value):
        return True
    if isinstance(value, cst.Name):
        return value.value in names
    if isinstance(value, cst.Attribute):
        return _extracts(value.value, names, extractors)
    if isinstance(value, cst.Subscript):
        return _extracts(value.value, names, extractors)
    if isinstance(value, cst.Call) and _last_name(value.func) in extractors:
        return True  # ``token = bearer_token(request)``
    if isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute):
        return value.func.attr.value in _STRING_OPS and _extracts(
            value.func.value, names, extractors
        )
    if isinstance(value, cst.IfExp):
        return _extracts(value.body, names, extractors) or _extracts(
            value.orelse, names, extractors
        )
    if isinstance(value, cst.BooleanOperation):
        return _extracts(value.left, names, extractors) or _extracts(value.right, names, extractors)
    return False


def _last_name(expr: cst.BaseExpression) -> str:
    return (dotted(expr) or "").rpartition(".")[2]


# Module-level ``Name = Annotated[...]`` aliases: FastAPI reads a dependency off them.
Aliases = dict[str, cst.BaseExpression]


def annotated_aliases(module: cst.Module) -> Aliases:
    """``Session = Annotated[Row, Depends(require_session)]`` at module level, by name."""
    found: Aliases = {}
    for statement in module.body:
        assigned = _assignment(statement)
        if assigned is not None and _is_annotated(assigned[1]):
            found[assigned[0].value] = assigned[1]
    return found


def tree_aliases(tree: SourceTree) -> Aliases:
    """Every module's aliases, as a module importing one (``from .deps import Db``) sees
    them; a name two modules define differently is left out (which one is meant is unknown)."""
    found: Aliases = {}
    clashes: set[str] = set()
    for source in tree.with_text("Annotated"):
        for name, value in annotated_aliases(source.module).items():
            if name in found and not found[name].deep_equals(value):
                clashes.add(name)
            found.setdefault(name, value)
    return {name: value for name, value in found.items() if name not in clashes}


def _is_annotated(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, cst.Subscript) and _last_name(expr.value) == "Annotated"


def _dependencies(param: cst.Param, aliases: Aliases | None = None) -> list[cst.BaseExpression]:
    """What FastAPI calls to fill ``param``: ``Depends(f)``/``Security(f)`` as its default or
    in its ``Annotated[...]`` annotation (written out, or a module alias of one)."""
    annotation = param.annotation.annotation if param.annotation else None
    if isinstance(annotation, cst.Name) and aliases and annotation.value in aliases:
        annotation = aliases[annotation.value]
    markers: list[cst.BaseExpression] = [param.default] if param.default is not None else []
    if annotation is not None and _is_annotated(annotation):
        assert isinstance(annotation, cst.Subscript)
        markers += [e.slice.value for e in annotation.slice[1:] if isinstance(e.slice, cst.Index)]
    return [
        marker.args[0].value
        for marker in markers
        if isinstance(marker, cst.Call)
        and _last_name(marker.func) in ("Depends", "Security")
        and marker.args
    ]


def _token_names(
    function: cst.FunctionDef,
    extractors: frozenset[str] = frozenset(),
    aliases: Aliases | None = None,
) -> set[str]:
    """Names holding the bearer token: taken out of the Authorization header, transitively,
    or given by a helper that does (``bearer_token(request)``, ``Depends(bearer_token)``,
    ``Annotated[str, Depends(bearer_token)]`` written out or through a module alias)."""
    names: set[str] = set()
    for param in function.params.params:
        annotation = param.annotation.annotation if param.annotation else None
        if annotation is not None and "HTTPAuthorizationCredentials" in (
            cst.Module([]).code_for_node(annotation)
        ):
            names.add(param.name.value)
        if any(_last_name(d) in extractors for d in _dependencies(param, aliases)):
            names.add(param.name.value)
    for statement in _statements(function):
        for small in statement.body:
            if not isinstance(small, cst.Assign | cst.AnnAssign) or small.value is None:
                continue
            if not _extracts(small.value, names, extractors):
                continue
            targets = small.targets if isinstance(small, cst.Assign) else [small]
            for target in targets:
                if isinstance(target.target, cst.Name | cst.Tuple | cst.List):
                    names |= {n.value for n in walk(target.target) if isinstance(n, cst.Name)}
    return names


def _carries_token(expr: cst.BaseExpression, tokens: set[str]) -> bool:
    for node in walk(expr):
        if isinstance(node, cst.Name) and node.value in tokens:
            return True
        if isinstance(node, cst.Attribute) and node.attr.value == "credentials":
            return True
    return False


def _token_argument(expr: cst.BaseExpression, tokens: set[str]) -> cst.BaseExpression | None:
    """The argument, index or SQL parameter of a lookup that holds the token."""
    candidates: list[cst.BaseExpression] = []
    if isinstance(expr, cst.Call):
        if _NOT_LOOKUPS.match(dotted(expr.func) or ""):
            return None
        for arg in expr.args:
            # SQL parameters: ``(token,)``, ``[token]`` or ``{"token": token}``
            if isinstance(arg.value, cst.Tuple | cst.List | cst.Dict):
                candidates += [e.value for e in arg.value.elements]
            else:
                candidates.append(arg.value)
        if not expr.args and isinstance(expr.func, cst.Attribute):
            inner = expr.func.value  # ``db.execute(SELECT ..., (token,)).fetchone()``
            if isinstance(inner, cst.Call):
                return _token_argument(inner, tokens)
    elif isinstance(expr, cst.Subscript) and len(expr.slice) == 1:
        index = expr.slice[0].slice
        if isinstance(index, cst.Index):
            candidates.append(index.value)
    found = [c for c in candidates if _carries_token(c, tokens)]
    return found[0] if len(found) == 1 else None


def _is_resolve(node: cst.CSTNode) -> bool:
    if not isinstance(node, cst.Call):
        return False
    name = dotted(node.func) or ""
    return name.split(".")[-1] in RESOLVE_CALLS and "oauth_migration" in name


def _assignment(statement: cst.CSTNode) -> tuple[cst.Name, cst.BaseExpression] | None:
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return None
    small = statement.body[0]
    if isinstance(small, cst.Assign) and len(small.targets) == 1:
        target, value = small.targets[0].target, small.value
    elif isinstance(small, cst.AnnAssign) and small.value is not None:
        target, value = small.target, small.value
    else:
        return None
    return (target, value) if isinstance(target, cst.Name) else None


def _statements(function: cst.FunctionDef) -> list[cst.SimpleStatementLine]:
    return [n for n in walk(function.body) if isinstance(n, cst.SimpleStatementLine)]


def _is_tested(function: cst.FunctionDef, name: str) -> bool:
    for node in walk(function.body):
        if isinstance(node, cst.If | cst.IfExp | cst.Assert) and name in names_in(node.test):
            return True
    return False


def _caught(source: SourceFile, statement: cst.CSTNode) -> str | None:
    """The lookup-failure exception a ``try`` around ``statement`` catches, if any."""
    current = source.parent(statement)
    while current is not None and not isinstance(current, cst.FunctionDef):
        if isinstance(current, cst.Try):
            for handler in current.handlers:
                caught = dotted(handler.type) if handler.type is not None else None
                if caught in ("KeyError", "LookupError", "IndexError"):
                    return caught
        current = source.parent(current)
    return None


def _cursor_pair(
    statements: list[cst.SimpleStatementLine], index: int, tokens: set[str]
) -> Lookup | None:
    """``cur = db.execute(SELECT ..., (token,))`` followed by ``row = cur.fetchone()``."""
    first = _assignment(statements[index])
    if first is None or index + 1 >= len(statements):
        return None
    cursor, execute = first
    second = _assignment(statements[index + 1])
    if second is None or not isinstance(execute, cst.Call):
        return None
    target, fetch = second
    if not (
        isinstance(fetch, cst.Call)
        and isinstance(fetch.func, cst.Attribute)
        and fetch.func.attr.value == "fetchone"
        and isinstance(fetch.func.value, cst.Name)
        and fetch.func.value.value == cursor.value
        and execute.args
        and _SQL.match(string_value(execute.args[0].value) or "")
    ):
        return None
    argument = _token_argument(execute, tokens)
    if argument is None:
        return None
    merged = fetch.with_changes(func=fetch.func.with_changes(value=execute))
    return Lookup(statements[index + 1], target, merged, argument, False, None, statements[index])


def _is_accessor(value: cst.BaseExpression) -> bool:
    """A value read again costs nothing and means the same: ``get_db()``, ``app.store``."""
    if isinstance(value, cst.Name | cst.Attribute):
        return dotted(value) is not None
    if isinstance(value, cst.Call) and not value.args:
        return dotted(value.func) is not None
    if isinstance(value, cst.Subscript) and len(value.slice) == 1:
        index = value.slice[0].slice
        constant = isinstance(index, cst.Index) and string_value(index.value) is not None
        return constant and _is_accessor(value.value)
    return False


def _accessors(
    function: cst.FunctionDef, lookup: Lookup, tokens: set[str]
) -> dict[str, cst.BaseExpression]:
    found: dict[str, cst.BaseExpression] = {}
    wanted = names_in(lookup.expression) - tokens - {"self", "cls"}
    for name in sorted(wanted):
        values = [
            v for st in _statements(function) if (a := _assignment(st)) and a[0].value == name
            for v in [a[1]]
        ]  # fmt: skip
        if len(values) == 1 and _is_accessor(values[0]):
            found[name] = values[0]
    return found


def _find_lookup(source: SourceFile, function: cst.FunctionDef, tokens: set[str]) -> Lookup | None:
    lookup = _first_lookup(source, function, tokens)
    if lookup is not None:
        lookup.argument = _presented(lookup.argument, tokens)
        lookup.accessors = _accessors(function, lookup, tokens)
    return lookup


def _presented(argument: cst.BaseExpression, tokens: set[str]) -> cst.BaseExpression:
    """The token as presented, inside a key derived from it (``fingerprint(token)``,
    ``f"at:{token}"``, ``sha256(token.encode()).hexdigest()``): the runtime must get the
    token itself, or no JWT is ever recognised; the derivation stays in the lookup. A
    cleaned token (``token.strip()``) is still the token and is passed as cleaned."""
    if _extracts(argument, tokens):
        return argument
    inner = [node for node in walk(argument) if _is_token(node, tokens)]
    if len(inner) == 1 and isinstance(inner[0], cst.BaseExpression):
        return inner[0]
    return argument


def _is_token(node: cst.CSTNode, tokens: set[str]) -> bool:
    if isinstance(node, cst.Name):
        return node.value in tokens
    return isinstance(node, cst.Attribute) and _reads_header(node)


def token_lookup(source: SourceFile, function: cst.FunctionDef, token: str) -> Lookup | None:
    """The lookup of ``token`` (a parameter of ``function``) in a method handed the bare
    token, as an SDK provider's ``load_access_token(self, token)`` is.

    Beyond the forms of :func:`find_gates`: ``return <lookup>`` (the caller tests the
    result), and a store keyed by a digest of the token (``key = sha256(token)...``; the
    digest moves into the lookup so the runtime still receives the token itself)."""
    lookup = _find_lookup(source, function, {token})
    if lookup is None:
        lookup = _derived_lookup(source, function, token) or _returned_lookup(function, token)
    if lookup is None:
        return None
    if _digest_of(lookup.argument, token):
        # ``get(sha256(token.encode()).hexdigest())``: the runtime must get the token, not
        # its digest (a digest is never a JWT: every token would take the opaque path).
        lookup.argument = _token_inside(lookup.argument, token)
    lookup.asynchronous = function.asynchronous is not None
    return lookup


def _token_inside(expr: cst.BaseExpression, token: str) -> cst.Name:
    return next(n for n in walk(expr) if isinstance(n, cst.Name) and n.value == token)


def _returned_lookup(function: cst.FunctionDef, token: str) -> Lookup | None:
    """``return self.tokens.get(token)``: the first return statement, if it is the lookup."""
    for statement in _statements(function):
        small = statement.body[0]
        if len(statement.body) != 1 or not isinstance(small, cst.Return) or small.value is None:
            continue
        value = small.value
        expression = value.expression if isinstance(value, cst.Await) else value
        argument = _token_argument(expression, {token})
        if argument is None:
            return None
        return Lookup(statement, None, expression, argument, isinstance(value, cst.Await))
    return None


def _derived_lookup(source: SourceFile, function: cst.FunctionDef, token: str) -> Lookup | None:
    """``key = hashlib.sha256(token.encode()).hexdigest()`` then a lookup of ``key``."""
    for statement in _statements(function):
        assigned = _assignment(statement)
        if assigned is None or not _digest_of(assigned[1], token):
            continue
        key = assigned[0].value
        lookup = _find_lookup(source, function, {key}) or _returned_lookup(function, key)
        if lookup is None or not isinstance(lookup.argument, cst.Name):
            return None
        derived = assigned[1]
        argument = _token_inside(derived, token)
        # The digest is spelled inside the lookup, so the lambda derives it from its parameter.
        expression = lookup.expression.deep_replace(lookup.argument, derived)
        assert isinstance(expression, cst.BaseExpression)
        lookup.expression, lookup.argument = expression, argument
        return lookup
    return None


_DIGESTS = re.compile(r"(^|\.)(sha\d+|sha3_\d+|blake2[bs]|md5|\w*hash\w*|\w*digest\w*)$", re.I)


def _digest_of(value: cst.BaseExpression, token: str) -> bool:
    """A call chain that hashes ``token`` (``sha256(token.encode()).hexdigest()``,
    ``token_hash(token)``): the value stands for the token, keyed at rest."""
    calls = [n for n in walk(value) if isinstance(n, cst.Call)]
    hashing = any(_DIGESTS.search(dotted(c.func) or _last_attr(c.func)) for c in calls)
    return hashing and token in names_in(value)


def _last_attr(func: cst.BaseExpression) -> str:
    return func.attr.value if isinstance(func, cst.Attribute) else ""


def _first_lookup(source: SourceFile, function: cst.FunctionDef, tokens: set[str]) -> Lookup | None:
    statements = _statements(function)
    for index, statement in enumerate(statements):
        pair = _cursor_pair(statements, index, tokens)
        if pair is not None and pair.target and _is_tested(function, pair.target.value):
            return pair
        assigned = _assignment(statement)
        if assigned is None:
            continue
        target, value = assigned
        if target.value in tokens:
            continue  # token = token.strip() and the like: still extracting
        awaited = isinstance(value, cst.Await)
        expression = value.expression if isinstance(value, cst.Await) else value
        argument = _token_argument(expression, tokens)
        if argument is None:
            continue
        raises = _caught(source, statement)
        if raises is None and not _is_tested(function, target.value):
            continue
        return Lookup(statement, target, expression, argument, awaited, raises)
    return None


_MARKERS = ("earer", "uthorization", ".credentials")


def _extractors(tree: SourceTree) -> frozenset[str]:
    """Helpers that return the bearer token they took out of the header (or None)."""
    found = set()
    for source in tree.with_text(*_MARKERS):
        for node in walk(source.module):
            if isinstance(node, cst.FunctionDef) and _returns_token(node):
                found.add(node.name.value)
    return frozenset(found)


def _returns_token(function: cst.FunctionDef) -> bool:
    given = [
        value
        for value in _returned(function.body)
        if not (isinstance(value, cst.Name) and value.value == "None")
    ]
    if not given:
        return False
    tokens = _token_names(function)
    return all(_extracts(value, tokens) for value in given)


def _returned(node: cst.CSTNode) -> list[cst.BaseExpression]:
    """The values a function's own ``return`` statements give (nested scopes aside)."""
    if isinstance(node, cst.Return):
        return [node.value] if node.value is not None else []
    if isinstance(node, cst.FunctionDef | cst.ClassDef | cst.Lambda):
        return []
    return [value for child in children(node) for value in _returned(child)]


def find_gates(tree: SourceTree) -> tuple[list[BearerGate], list[ManualStep]]:
    gates: list[BearerGate] = []
    manual: list[ManualStep] = []
    extractors = _extractors(tree)
    everywhere = tree_aliases(tree)
    for source in tree.with_text(*_MARKERS):
        aliases = {**everywhere, **annotated_aliases(source.module)}
        for node in walk(source.module):
            if not isinstance(node, cst.FunctionDef):
                continue
            tokens = _token_names(node, extractors, aliases)
            if not _handles_bearer(source, node, tokens):
                continue
            inner = [n for n in walk(node.body) if isinstance(n, cst.FunctionDef)]
            if inner:
                continue  # the innermost function that handles the token is the gate
            if any(_is_resolve(n) for n in walk(node.body)):
                gates.append(BearerGate(source, node, None, migrated=True))
                continue
            lookup = _find_lookup(source, node, tokens)
            if lookup is not None and _credentials_object(node, lookup.argument):
                found = _handed_credentials(tree, source, node, lookup)
                if isinstance(found, BearerGate):
                    gates.append(found)
                else:
                    manual.append(found)
                continue
            if lookup is not None:
                lookup.dependencies = _request_scoped(tree, node, lookup, tokens, aliases)
                closed = _unopenable(tree, lookup, aliases)
                if closed is not None:
                    # Blocking: JWTs minted beside a gate left as it is would be refused.
                    manual.append(_manual_dependency(source, node, lookup, closed).blocking())
                    continue
                gates.append(BearerGate(source, node, lookup))
                continue
            # A helper that gave the token checked its Bearer scheme already.
            helped = bool(tokens - _token_names(node))
            use = _unisolated_use(source, node, tokens, helped)
            if use is not None:
                manual.append(_manual_gate(source, node, use))
    return _once(gates), manual


def _once(gates: list[BearerGate]) -> list[BearerGate]:
    """A helper reached from a gate's call (``load(credentials)``) may also be found as a
    gate of its own: it is wrapped once."""
    seen: set[int] = set()
    kept = []
    for gate in gates:
        if id(gate.function) not in seen:
            seen.add(id(gate.function))
            kept.append(gate)
    return kept


def _credentials_object(function: cst.FunctionDef, argument: cst.BaseExpression) -> bool:
    """The lookup is handed ``HTTPAuthorizationCredentials`` itself, not the token in it."""
    if not isinstance(argument, cst.Name):
        return False
    for param in function.params.params:
        annotation = param.annotation.annotation if param.annotation else None
        if param.name.value == argument.value and annotation is not None:
            return "HTTPAuthorizationCredentials" in cst.Module([]).code_for_node(annotation)
    return False


def _handed_credentials(
    tree: SourceTree, source: SourceFile, function: cst.FunctionDef, lookup: Lookup
) -> BearerGate | ManualStep:
    """``record = load(credentials)``: the lookup is inside ``load``, on
    ``credentials.credentials``; wrapping the call would hand the runtime the credentials
    object, so no JWT would ever be recognised and introspection would fail on every token."""
    call = lookup.expression
    callee = (
        _defined(tree, call.func.value)
        if isinstance(call, cst.Call) and isinstance(call.func, cst.Name)
        else None
    )
    parameter = _receiving(callee[1], call, lookup.argument) if callee else None
    if callee is None or parameter is None:
        return _manual_gate(source, function, lookup.statement)
    helper_source, helper = callee
    if any(_is_resolve(n) for n in walk(helper.body)):
        return BearerGate(helper_source, helper, None, migrated=True)
    inner = token_lookup(helper_source, helper, parameter)
    if inner is None:
        return _manual_gate(source, function, lookup.statement)
    inner.asynchronous = inner.asynchronous or lookup.awaited or lookup.asynchronous
    return BearerGate(helper_source, helper, inner)


def _receiving(
    helper: cst.FunctionDef, call: cst.BaseExpression, argument: cst.BaseExpression
) -> str | None:
    """The parameter of ``helper`` that ``call`` hands ``argument`` to."""
    assert isinstance(call, cst.Call)
    positional = [p.name.value for p in helper.params.params]
    for index, arg in enumerate(call.args):
        if arg.value is argument:
            if arg.keyword is not None:
                return arg.keyword.value
            return positional[index] if index < len(positional) else None
    return None


def _unisolated_use(
    source: SourceFile, function: cst.FunctionDef, tokens: set[str], helped: bool
) -> cst.CSTNode | None:
    """Where a bearer gate checks its token in a way that cannot be wrapped: a membership
    test (``token in VALID``), or a lookup whose result is not bound to a name and tested
    (``g.user = db.execute(...).fetchone()[0]``)."""
    bearer = helped or ".credentials" in source.code(function) or _checks_scheme(function, "bearer")
    if not tokens or not bearer:
        return None
    for node in walk(function.body):
        if (
            isinstance(node, cst.Comparison)
            and isinstance(node.comparisons[0].operator, cst.In | cst.NotIn)
            and _carries_token(node.left, tokens)
        ):
            return node
        if isinstance(node, cst.Call) and _token_argument(node, tokens) is not None:
            return node
    return None


def _request_scoped(
    tree: SourceTree,
    function: cst.FunctionDef,
    lookup: Lookup,
    tokens: set[str],
    aliases: Aliases,
) -> dict[str, cst.BaseExpression]:
    """The lookup's locals that are parameters filled by a generator dependency of the
    tree (one that closes what it yielded once the request ends), each bound to what the
    gate's module names it by: the dependency, or the ``Annotated`` alias carrying it (the
    runtime reads the dependency off the alias, which may come from another module). A
    plain function's value is left as read: nothing closes it after the request."""
    wanted = names_in(lookup.expression) - tokens
    found: dict[str, cst.BaseExpression] = {}
    for param in function.params.params:
        dependencies = _dependencies(param, aliases)
        if param.name.value not in wanted or len(dependencies) != 1:
            continue
        definition = _definition(tree, _last_name(dependencies[0]))
        if definition is not None and _yields(definition):
            found[param.name.value] = _named_by(param, aliases) or dependencies[0]
    return found


def _named_by(param: cst.Param, aliases: Aliases) -> cst.Name | None:
    """The alias annotating ``param`` when its dependency comes from that alias."""
    annotation = param.annotation.annotation if param.annotation else None
    from_default = isinstance(param.default, cst.Call)
    if isinstance(annotation, cst.Name) and annotation.value in aliases and not from_default:
        return annotation
    return None


def _yields(function: cst.FunctionDef) -> bool:
    return any(isinstance(node, cst.Yield) for node in _own_nodes(function.body))


def _own_nodes(node: cst.CSTNode) -> list[cst.CSTNode]:
    """``node`` and what it contains, nested functions and classes aside."""
    if isinstance(node, cst.FunctionDef | cst.ClassDef | cst.Lambda):
        return []
    return [node, *(n for child in children(node) for n in _own_nodes(child))]


def _dependency_named(named: cst.BaseExpression, aliases: Aliases) -> cst.BaseExpression:
    """The dependency behind what the gate names it by (itself, or an alias holding it)."""
    if isinstance(named, cst.Name) and named.value in aliases:
        return _dependencies(cst.Param(cst.Name("_"), cst.Annotation(named)), aliases)[0]
    return named


def _unopenable(tree: SourceTree, lookup: Lookup, aliases: Aliases) -> cst.BaseExpression | None:
    """The first generator dependency the lookup reads that cannot be opened without a
    request: taking parameters FastAPI would fill (``request: Request``, another
    ``Depends``), or an async generator in a synchronous gate."""
    for named in lookup.dependencies.values():
        dependency = _dependency_named(named, aliases)
        definition = _definition(tree, _last_name(dependency))
        assert definition is not None  # _request_scoped found it
        if not _callable_alone(definition):
            return dependency
        asynchronous = lookup.awaited or lookup.asynchronous
        if definition.asynchronous is not None and not asynchronous:
            return dependency
    return None


def _definition(tree: SourceTree, name: str) -> cst.FunctionDef | None:
    found = _defined(tree, name)
    return found[1] if found is not None else None


def _defined(tree: SourceTree, name: str) -> tuple[SourceFile, cst.FunctionDef] | None:
    """The one module-level ``def name`` of the tree, with its file."""
    found = [
        (source, node)
        for source in tree.with_text(f"def {name}(")
        for node in source.module.body
        if isinstance(node, cst.FunctionDef) and node.name.value == name
    ]
    return found[0] if len(found) == 1 else None


def _callable_alone(function: cst.FunctionDef) -> bool:
    params = function.params
    every = [*params.posonly_params, *params.params, *params.kwonly_params]
    plain_defaults = all(
        p.default is not None and not _dependencies(p) and p.annotation is None for p in every
    )
    return plain_defaults and not isinstance(params.star_kwarg, cst.Param)


def _manual_dependency(
    source: SourceFile, function: cst.FunctionDef, lookup: Lookup, dependency: cst.BaseExpression
) -> ManualStep:
    name = source.code(dependency).strip()
    return ManualStep(
        source.where(lookup.statement),
        f"the bearer-token lookup in {function.name.value}() reads a resource from "
        f"`Depends({name})`, a generator that closes it after each request; the kit opens "
        "it outside a request (introspection runs the lookup there) only when it takes no "
        "parameters and is async only in an async gate",
        f"make the lookup open its own resource (`with contextmanager({name})() as db:`), "
        "then write `record = oauth_migration.resolve(token, legacy=lambda t: <the lookup "
        "of t>)`",
        "Manual steps: gate",
    )


def _manual_gate(source: SourceFile, function: cst.FunctionDef, use: cst.CSTNode) -> ManualStep:
    return ManualStep(
        source.where(use),
        f"a bearer-token lookup in {function.name.value}() bound to a name and tested "
        "(`record = lookup(token)`, then `if record is None`) or caught (`except KeyError`); "
        f"found `{source.code(use).strip()}`",
        "bind the legacy lookup's result to a name that the gate tests, then write "
        "`record = oauth_migration.resolve(token, legacy=lambda t: <the lookup of t>)`",
        "Manual steps: gate",
    )
