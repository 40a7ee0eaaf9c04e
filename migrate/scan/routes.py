"""The MCP endpoint of an app: the route whose handler speaks MCP, with its full path.

The path is read from where routes are declared, following the app object and the
routers it is given: the constructor's ``routes=[...]`` (a list literal or a list bound
to a name here or in another module), ``Mount(prefix, routes=...)`` and
``Mount(prefix, app=...)``, the statements that add routes to the app (``add_route``,
``add_api_route``, ``add_url_rule``, ``mount``, route decorators) and the routers it
includes with their prefixes (``include_router(router, prefix=...)`` over
``APIRouter(prefix=...)``, ``register_blueprint(bp, url_prefix=...)`` over
``Blueprint(..., url_prefix=...)``). Which route is the MCP endpoint is decided by what
its handler does, never by its path: it answers MCP's JSON-RPC (``initialize`` beside
``jsonrpc`` or a ``tools/`` method, in the handler or in what it calls), or it is an MCP SDK app
(``streamable_http_app()``, ``sse_app()``, ``http_app()``) whose own path is appended.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from weakref import WeakKeyDictionary

import libcst as cst

from migrate.scan.source import SourceFile, SourceTree
from migrate.scan.syntax import (
    assigned_names,
    dotted,
    imported_names,
    keyword_value,
    names_in,
    parameters,
    string_value,
    walk,
)

ROUTE_DECORATORS = frozenset(
    {"route", "get", "post", "put", "patch", "delete", "api_route", "websocket"}
)
ROUTE_ADDERS = frozenset({"add_route", "add_api_route"})
# An MCP SDK app's own path (mcp's FastMCP: streamable_http_path, sse_path; fastmcp: path).
SDK_APPS = {"streamable_http_app": "/mcp", "sse_app": "/sse", "http_app": "/mcp"}
SDK_PATH_KEYWORDS = ("streamable_http_path", "sse_path", "path")
# The keywords of each app-building call that set its endpoint's path (mcp 2.x takes the
# settings' names on the call too: ``streamable_http_app(streamable_http_path="/api")``).
CALL_PATH_KEYWORDS = {
    "streamable_http_app": ("path", "streamable_http_path"),
    "sse_app": ("path", "sse_path"),
    "http_app": ("path",),
}
_DEPTH = 4  # how far names are followed (a handler calling a dispatcher calling a table)


@dataclass(frozen=True)
class McpRoute:
    path: str
    where: str  # file:line of the route, mount or decorator that declares it


@dataclass(frozen=True)
class Router:
    """An object routes are added to: an app, an ``APIRouter``, a ``Blueprint``."""

    source: SourceFile
    variable: str
    statements: Sequence[cst.BaseStatement]
    created: cst.Call | None = None


@dataclass
class _Search:
    tree: SourceTree
    found: list[McpRoute] = field(default_factory=list)
    seen: set[int] = field(default_factory=set)


def join(prefix: str, path: str) -> str:
    """``/api`` + ``/mcp`` -> ``/api/mcp``; an empty or ``/`` path is the prefix itself."""
    tail = path.strip("/")
    joined = prefix.rstrip("/") + ("/" + tail if tail else "")
    return joined or "/"


def mcp_routes(tree: SourceTree, routers: Sequence[Router]) -> list[McpRoute]:
    """Every route of these routers (one app's, seen from each place it is used) whose
    handler speaks MCP, one per path."""
    search = _Search(tree)
    for router in routers:
        _router_routes(search, router, "", 0)
    unique: dict[str, McpRoute] = {}
    for route in search.found:
        unique.setdefault(route.path, route)
    return list(unique.values())


def _positional(call: cst.Call, index: int) -> cst.BaseExpression | None:
    plain = [a.value for a in call.args if a.keyword is None and not a.star]
    return plain[index] if index < len(plain) else None


def _router_routes(search: _Search, router: Router, prefix: str, depth: int) -> None:
    if depth > _DEPTH or id(router.statements) in search.seen and router.created is None:
        return
    if router.created is not None:
        if id(router.created) in search.seen:
            return
        search.seen.add(id(router.created))
        own = keyword_value(router.created, "prefix", "url_prefix")
        prefix = join(prefix, string_value(own) or "") if own is not None else prefix
        listed = keyword_value(router.created, "routes")
        if listed is not None:
            _route_list(search, router.source, listed, prefix, depth + 1, router.statements)
    for statement in router.statements:
        for node in walk(statement):
            if isinstance(node, cst.FunctionDef | cst.ClassDef):
                _decorated(search, router, node, prefix, depth)
            elif (
                isinstance(node, cst.Call)
                and isinstance(node.func, cst.Attribute)
                and dotted(node.func.value) == router.variable
            ):
                _added(search, router, node, node.func.attr.value, prefix, depth)
            elif isinstance(node, cst.Call):
                _passed(search, router, node, prefix, depth)


def _decorated(
    search: _Search, router: Router, node: cst.FunctionDef | cst.ClassDef, prefix: str, depth: int
) -> None:
    for decorator in node.decorators:
        call = decorator.decorator
        if not (isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute)):
            continue
        if dotted(call.func.value) != router.variable or call.func.attr.value not in (
            ROUTE_DECORATORS
        ):
            continue
        path = _path(call)
        if path is not None and _speaks_mcp(search.tree, router.source, node, depth):
            search.found.append(McpRoute(join(prefix, path), router.source.where(call)))


def _passed(search: _Search, router: Router, call: cst.Call, prefix: str, depth: int) -> None:
    """``register_routes(app)``: the function's parameter is the router in its body."""
    params: list[str] = []
    bound = resolve(search.tree, router.source, call.func, router.statements)
    if bound is None or not isinstance(bound.node, cst.FunctionDef):
        return
    function = bound.node
    params = [p for p in parameters(function) if p not in ("self", "cls")]
    for index, arg in enumerate(call.args):
        if not (isinstance(arg.value, cst.Name) and arg.value.value == router.variable):
            continue
        name = arg.keyword.value if arg.keyword is not None else None
        if name is None and index < len(params) and not arg.star:
            name = params[index]
        if name is not None and isinstance(function.body, cst.IndentedBlock):
            inner = Router(bound.source, name, function.body.body)
            _router_routes(search, inner, prefix, depth + 1)


def _path(call: cst.Call) -> str | None:
    given = _positional(call, 0) or keyword_value(call, "path", "rule")
    return string_value(given) if given is not None else None


def _added(
    search: _Search, router: Router, call: cst.Call, method: str, prefix: str, depth: int
) -> None:
    source = router.source
    if method in ROUTE_ADDERS or method == "add_url_rule":
        path = _path(call)
        handler = keyword_value(call, "endpoint", "view_func") or _positional(
            call, 2 if method == "add_url_rule" else 1
        )
        if path is not None and handler is not None:
            _endpoint(search, source, handler, join(prefix, path), call, depth, router.statements)
    elif method == "mount":
        path = _path(call)
        mounted = keyword_value(call, "app") or _positional(call, 1)
        if path is not None and mounted is not None:
            _mounted(search, source, mounted, join(prefix, path), call, depth, router.statements)
    elif method in ("include_router", "register_blueprint"):
        included = _positional(call, 0)
        given = keyword_value(call, "prefix", "url_prefix")
        extra = string_value(given) if given is not None else None
        inner = _router_of(search.tree, source, included, router.statements) if included else None
        if inner is not None:
            if method == "register_blueprint" and extra is not None and inner.created is not None:
                # Flask: the url_prefix given at registration replaces the blueprint's own.
                inner = Router(inner.source, inner.variable, inner.statements, None)
            _router_routes(search, inner, join(prefix, extra or ""), depth + 1)


def _route_list(
    search: _Search,
    source: SourceFile,
    expr: cst.BaseExpression,
    prefix: str,
    depth: int,
    block: Sequence[cst.BaseStatement],
) -> None:
    if depth > _DEPTH:
        return
    if isinstance(expr, cst.BinaryOperation):
        for side in (expr.left, expr.right):
            _route_list(search, source, side, prefix, depth + 1, block)
        return
    if isinstance(expr, cst.Name | cst.Attribute):
        bound = resolve(search.tree, source, expr, block)
        if bound is not None and isinstance(bound.node, cst.BaseExpression):
            _route_list(search, bound.source, bound.node, prefix, depth + 1, bound.block)
        return
    if not isinstance(expr, cst.List | cst.Tuple):
        return
    for element in expr.elements:
        if isinstance(element, cst.StarredElement):
            _route_list(search, source, element.value, prefix, depth + 1, block)
        elif isinstance(element.value, cst.Call):
            _route_entry(search, source, element.value, prefix, depth, block)


def _route_entry(
    search: _Search,
    source: SourceFile,
    call: cst.Call,
    prefix: str,
    depth: int,
    block: Sequence[cst.BaseStatement],
) -> None:
    kind = (dotted(call.func) or "").split(".")[-1]
    path = _path(call)
    if path is None:
        return
    if kind.endswith("Route") and not kind.startswith("WebSocket"):
        handler = keyword_value(call, "endpoint") or _positional(call, 1)
        if handler is not None:
            _endpoint(search, source, handler, join(prefix, path), call, depth, block)
    elif kind == "Mount":
        listed = keyword_value(call, "routes")
        if listed is not None:
            _route_list(search, source, listed, join(prefix, path), depth + 1, block)
        mounted = keyword_value(call, "app") or _positional(call, 1)
        if mounted is not None:
            _mounted(search, source, mounted, join(prefix, path), call, depth, block)


def _endpoint(
    search: _Search,
    source: SourceFile,
    handler: cst.BaseExpression,
    path: str,
    declared: cst.CSTNode,
    depth: int,
    block: Sequence[cst.BaseStatement],
) -> None:
    if isinstance(handler, cst.Call) and isinstance(handler.func, cst.Attribute):
        handler = handler.func.value  # ``McpView.as_view("mcp")``: the view class
    bound = resolve(search.tree, source, handler, block)
    if bound is not None and _speaks_mcp(search.tree, bound.source, bound.node, depth):
        search.found.append(McpRoute(path, source.where(declared)))


def _mounted(
    search: _Search,
    source: SourceFile,
    mounted: cst.BaseExpression,
    path: str,
    declared: cst.CSTNode,
    depth: int,
    block: Sequence[cst.BaseStatement],
) -> None:
    """A mounted app: an MCP SDK app (its own path appended), a router or app of the tree
    (its routes under the mount's path), or an ASGI callable that speaks MCP."""
    own = _sdk_app_path(search.tree, source, mounted, block)
    if own is not None:
        search.found.append(McpRoute(join(path, own), source.where(declared)))
        return
    inner = _router_of(search.tree, source, mounted, block)
    if inner is not None:
        _router_routes(search, inner, path, depth + 1)
        return
    _endpoint(search, source, mounted, path, declared, depth, block)


def _sdk_app_path(
    tree: SourceTree,
    source: SourceFile,
    expr: cst.BaseExpression,
    block: Sequence[cst.BaseStatement],
) -> str | None:
    if isinstance(expr, cst.Name):
        bound = resolve(tree, source, expr, block)
        if bound is None or not isinstance(bound.node, cst.Call):
            return None
        source, expr, block = bound.source, bound.node, bound.block
    if not (isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute)):
        return None
    default = SDK_APPS.get(expr.func.attr.value)
    if default is None:
        return None
    given = keyword_value(expr, *CALL_PATH_KEYWORDS[expr.func.attr.value])
    if given is not None:
        return string_value(given)
    server = resolve(tree, source, expr.func.value, block)
    if server is not None and isinstance(server.node, cst.Call):
        named = keyword_value(server.node, *SDK_PATH_KEYWORDS)
        if named is not None and expr.func.attr.value != "sse_app":
            return string_value(named)
    return default


# -- names followed to what they are bound to ------------------------------------------


@dataclass(frozen=True)
class Bound:
    source: SourceFile
    node: cst.CSTNode  # a def, a class, or the value of an assignment
    block: Sequence[cst.BaseStatement]  # the statements it is bound among
    name: str = ""


def _router_of(
    tree: SourceTree,
    source: SourceFile,
    expr: cst.BaseExpression,
    block: Sequence[cst.BaseStatement],
) -> Router | None:
    bound = resolve(tree, source, expr, block)
    if bound is None or not isinstance(bound.node, cst.Call) or not bound.name:
        return None
    return Router(bound.source, bound.name, bound.block, bound.node)


def resolve(
    tree: SourceTree,
    source: SourceFile,
    expr: cst.BaseExpression,
    block: Sequence[cst.BaseStatement] = (),
    depth: int = 0,
) -> Bound | None:
    """What a name (or ``module.name``) is bound to: a def, a class or an assigned value,
    in ``block``, in the module, or through the module's imports into the tree."""
    if depth > _DEPTH:
        return None
    if isinstance(expr, cst.Attribute):
        module = _module_of(tree, source, expr.value)
        return _in_module(tree, module, expr.attr.value, depth) if module is not None else None
    if not isinstance(expr, cst.Name):
        return None
    name = expr.value
    found = _bound_in(source, block, name) or _module_bindings(tree, source).get(name)
    if found is not None:
        return found
    target = _imports(tree, source).get(name)
    if target is None:
        return None
    module_part, _, attr = target.rpartition(".")
    module = module_named(tree, source, module_part) if module_part else None
    return _in_module(tree, module, attr, depth + 1) if module is not None else None


def _bound_in(
    source: SourceFile, statements: Sequence[cst.BaseStatement], name: str
) -> Bound | None:
    for statement in statements:
        if isinstance(statement, cst.FunctionDef | cst.ClassDef) and statement.name.value == name:
            return Bound(source, statement, statements, name)
        if name in assigned_names(statement):
            assert isinstance(statement, cst.SimpleStatementLine)
            small = statement.body[0]
            if isinstance(small, cst.Assign | cst.AnnAssign) and small.value is not None:
                return Bound(source, small.value, statements, name)
    return None


# Tree -> file -> name -> binding (a SourceFile compares by value, so it is no key).
_BINDINGS: WeakKeyDictionary[SourceTree, dict[str, dict[str, Bound]]] = WeakKeyDictionary()


_IMPORTS: WeakKeyDictionary[SourceTree, dict[str, dict[str, str]]] = WeakKeyDictionary()


def _imports(tree: SourceTree, source: SourceFile) -> dict[str, str]:
    """:func:`imported_names` of the file, read once per tree."""
    files = _IMPORTS.setdefault(tree, {})
    if source.rel not in files:
        files[source.rel] = imported_names(source.module)
    return files[source.rel]


def _module_bindings(tree: SourceTree, source: SourceFile) -> dict[str, Bound]:
    """Name -> its first top-level binding in the module, built once per file (every
    name a handler reads is looked up here)."""
    files = _BINDINGS.setdefault(tree, {})
    found = files.get(source.rel)
    if found is None:
        found = {}
        body = source.module.body
        for statement in body:
            if isinstance(statement, cst.FunctionDef | cst.ClassDef):
                names = {statement.name.value}
            else:
                names = assigned_names(statement)
            for name in names - set(found):
                bound = _bound_in(source, [statement], name)
                if bound is not None:
                    found[name] = Bound(source, bound.node, body, name)
        files[source.rel] = found
    return found


def _in_module(tree: SourceTree, module: SourceFile, name: str, depth: int) -> Bound | None:
    return resolve(tree, module, cst.Name(name), (), depth + 1)


def _module_of(tree: SourceTree, source: SourceFile, expr: cst.BaseExpression) -> SourceFile | None:
    name = dotted(expr)
    if name is None:
        return None
    target = _imports(tree, source).get(name.split(".")[0])
    if target is None:
        return None
    return module_named(tree, source, target + name[len(name.split(".")[0]) :])


def module_named(tree: SourceTree, importer: SourceFile, dotted_name: str) -> SourceFile | None:
    """The tree's module for an import, absolute or relative to the importer's package
    (relative imports lose their dots in :func:`imported_names`)."""
    parts = importer.rel.removesuffix(".py").split("/")[:-1]
    candidates = [".".join([*parts[:i], dotted_name]) for i in range(len(parts), -1, -1)]
    by_name = _modules(tree)
    return next((by_name[c] for c in candidates if c in by_name), None)


_MODULES: WeakKeyDictionary[SourceTree, dict[str, SourceFile]] = WeakKeyDictionary()


def _modules(tree: SourceTree) -> dict[str, SourceFile]:
    """Dotted module name -> file, built once per tree (a plan resolves many names)."""
    found = _MODULES.get(tree)
    if found is None:
        found = {}
        for rel, source in tree.files.items():
            parts = rel.removesuffix(".py").split("/")
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = source
        _MODULES[tree] = found
    return found


# -- what an MCP handler does ----------------------------------------------------------


def _speaks_mcp(tree: SourceTree, source: SourceFile, node: cst.CSTNode, depth: int) -> bool:
    """Whether ``node`` (a handler, or what it calls up to a few names away) answers
    MCP's JSON-RPC: ``initialize`` (every MCP session starts with it) beside ``jsonrpc``
    or a ``tools/`` method among its strings."""
    strings: set[str] = set()
    for _, found in _reachable(tree, source, node, depth, set()):
        strings.update(_strings(found))
        if "initialize" in strings and any(
            s == "jsonrpc" or s.startswith("tools/") for s in strings
        ):
            return True
    return False


def _reachable(
    tree: SourceTree, source: SourceFile, node: cst.CSTNode, depth: int, seen: set[int]
) -> Iterator[tuple[SourceFile, cst.CSTNode]]:
    if id(node) in seen or depth > _DEPTH + 2:
        return
    seen.add(id(node))
    yield source, node
    for name in sorted(_names_followed(node)):
        bound = resolve(tree, source, cst.Name(name))
        if bound is not None and bound.node is not node:
            yield from _reachable(tree, bound.source, bound.node, depth + 1, seen)


def _names_followed(node: cst.CSTNode) -> set[str]:
    """The names a handler reads (heads of attribute chains: ``request.app`` is
    ``request``). Of a value that is a call only the callee is followed: through
    ``Starlette(routes=ROUTES)`` every handler of the app would look like this one."""
    if isinstance(node, cst.Call):
        return names_in(node.func)
    return names_in(node)


def _strings(node: cst.CSTNode) -> Iterator[str]:
    for child in walk(node):
        if isinstance(child, cst.SimpleString):
            value = string_value(child)
            if value is not None:
                yield value
