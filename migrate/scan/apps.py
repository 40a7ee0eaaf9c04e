"""Find the web application object, where to install the runtime, and the issuer to give it.

The runtime's routes (JWKS, introspection, RFC 9728 documents) and its 401-challenge fix
are installed with one call on the application object, placed where the legacy code has
finished building it: before ``return app`` in a factory, or after the last statement that
uses ``app`` before the server is started (``app.run()``, ``uvicorn.run(app)``) or the
``if __name__ == "__main__":`` block, which may itself be where a script builds its app.
The issuer must be known there, so the metadata's ``issuer`` expression is followed back
to something that can be evaluated at that point: a module constant, or
``request.app.X`` / ``current_app.X`` read as ``app.X``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import libcst as cst

from migrate import runtime_api
from migrate.scan.metadata import MetadataProducer
from migrate.scan.routes import McpRoute, Router, mcp_routes, module_named
from migrate.scan.source import SourceFile, SourceTree, children
from migrate.scan.syntax import (
    assigned_names,
    dotted,
    enclosing_function,
    imported_names,
    names_in,
    parameters,
    qualified,
    walk,
)

FRAMEWORKS = {
    "starlette.applications.Starlette": "starlette",
    "starlette.Starlette": "starlette",
    "fastapi.FastAPI": "fastapi",
    "fastapi.applications.FastAPI": "fastapi",
    "flask.Flask": "flask",
    "flask.app.Flask": "flask",
}
INSTALL_CALLS = frozenset({runtime_api.INSTALL_STARLETTE, runtime_api.INSTALL_FLASK})
# Apps of frameworks the runtime has no adapter for: what they are called in a plan.
UNSUPPORTED = {
    "aiohttp.web.Application": "aiohttp",
    "aiohttp.web_app.Application": "aiohttp",
    "azure.functions.FunctionApp": "Azure Functions",
    "azure.functions.AsgiFunctionApp": "Azure Functions",
    "azure.functions.WsgiFunctionApp": "Azure Functions",
    "django.core.asgi.get_asgi_application": "Django",
    "django.core.wsgi.get_wsgi_application": "Django",
    "starlette.routing.Router": "a bare Starlette Router (a plain ASGI app)",
    "quart.Quart": "Quart",
    "sanic.Sanic": "Sanic",
    "tornado.web.Application": "Tornado",
    "falcon.App": "Falcon",
    "falcon.asgi.App": "Falcon",
    "litestar.Litestar": "Litestar",
    "bottle.Bottle": "Bottle",
}
ASGI_PARAMETERS = ["scope", "receive", "send"]


@dataclass
class AppSite:
    source: SourceFile
    framework: str
    variable: str
    created: cst.SimpleStatementLine
    factory: cst.FunctionDef | None
    anchor: cst.BaseStatement
    before: bool  # insert the install call before ``anchor`` (a ``return app``) or after it
    migrated: bool = False
    # ``return Starlette(...)``: the app has no name yet; the install binds it to
    # ``variable`` first (``app = Starlette(...)``, the call, ``return app``).
    bind: cst.Call | None = None
    # Where the app is used: its own block, and each block that binds a factory's result.
    uses: list[Router] = field(default_factory=list)
    mcp: list[McpRoute] = field(default_factory=list)  # its routes whose handler speaks MCP

    @property
    def serves_mcp(self) -> bool:
        return bool(self.mcp)

    @property
    def where(self) -> str:
        return self.source.where(self.created)

    @property
    def module_name(self) -> str:
        return module_name(self.source.rel)


@dataclass
class Issuer:
    expression: cst.BaseExpression
    imports: list[tuple[str, str]] = field(default_factory=list)  # (module, name)
    origin: str = ""


def module_name(rel: str) -> str:
    parts = rel.removesuffix(".py").split("/")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _created_app(statement: cst.CSTNode, imports: dict[str, str]) -> tuple[str, str] | None:
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return None
    small = statement.body[0]
    if not isinstance(small, cst.Assign | cst.AnnAssign) or not isinstance(small.value, cst.Call):
        return None
    target = small.targets[0].target if isinstance(small, cst.Assign) else small.target
    framework = FRAMEWORKS.get(qualified(small.value.func, imports) or "")
    if framework is None or not isinstance(target, cst.Name):
        return None
    return framework, target.value


def _returned_app(
    source: SourceFile, statement: cst.CSTNode, imports: dict[str, str]
) -> tuple[str, cst.Call, cst.FunctionDef] | None:
    """``return Starlette(...)`` as the last statement of a factory."""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return None
    small = statement.body[0]
    if not isinstance(small, cst.Return) or not isinstance(small.value, cst.Call):
        return None
    framework = FRAMEWORKS.get(qualified(small.value.func, imports) or "")
    factory = enclosing_function(source, statement)
    if framework is None or factory is None or not isinstance(factory.body, cst.IndentedBlock):
        return None
    if factory.body.body[-1] is not statement:
        return None
    return framework, small.value, factory


def _free_name(function: cst.FunctionDef) -> str:
    taken = names_in(function.body) | set(parameters(function))
    return next(n for n in ("app", "application", "web_app") if n not in taken)


def _mentions(statement: cst.CSTNode, name: str) -> bool:
    return name in names_in(statement)


def _is_main_guard(statement: cst.CSTNode) -> bool:
    return isinstance(statement, cst.If) and "__main__" in cst.Module([]).code_for_node(
        statement.test
    )


# ``app.run()``, ``uvicorn.run(app)``, ``waitress.serve(app)``: the server starts and blocks.
_SERVE_CALLS = frozenset({"run", "serve", "run_simple"})


def _runs(statement: cst.CSTNode, variable: str) -> bool:
    if not isinstance(statement, cst.SimpleStatementLine):
        return False
    for small in statement.body:
        if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
            name = dotted(small.value.func) or ""
            if name.split(".")[-1] in _SERVE_CALLS and variable in names_in(small.value):
                return True
    return False


def _anchor(
    body: list[cst.BaseStatement], created: cst.CSTNode, variable: str
) -> tuple[cst.BaseStatement, bool]:
    last = body[-1]
    if (
        isinstance(last, cst.SimpleStatementLine)
        and isinstance(last.body[0], cst.Return)
        and isinstance(last.body[0].value, cst.Name)
        and last.body[0].value.value == variable
    ):
        return last, True
    start = next(i for i, s in enumerate(body) if s is created)
    anchor = body[start]
    for statement in body[start + 1 :]:
        if _is_main_guard(statement) or _runs(statement, variable):
            break  # installing after the server started would never run
        if _mentions(statement, variable):
            anchor = statement
    # ``return ProxyFix(app)``: a call placed after it would never run, so it goes before.
    return anchor, _leaves(anchor)


def _leaves(statement: cst.CSTNode) -> bool:
    """Whether ``statement`` may return (what ``def``, ``class`` and lambdas return aside)."""
    if isinstance(statement, cst.Return):
        return True
    if isinstance(statement, cst.FunctionDef | cst.ClassDef | cst.Lambda):
        return False
    return any(_leaves(child) for child in children(statement))


def _installed(statements: Sequence[cst.BaseStatement], variable: str) -> bool:
    """Whether an install call is given ``variable`` among ``statements`` (by an earlier
    apply, or by hand)."""
    for statement in statements:
        for node in walk(statement):
            if (
                isinstance(node, cst.Call)
                and (dotted(node.func) or "").split(".")[-1] in INSTALL_CALLS
                and variable in names_in(node)
            ):
                return True
    return False


def _block(
    source: SourceFile, created: cst.SimpleStatementLine, factory: cst.FunctionDef | None
) -> list[cst.BaseStatement] | None:
    """The statements the app is built among: a factory's, the module's, or those of the
    module's ``if __name__ == "__main__":`` (where a script builds the app it runs)."""
    if factory is not None:
        block = list(factory.body.body) if isinstance(factory.body, cst.IndentedBlock) else []
        return block if created in block else None
    if created in source.module.body:
        return list(source.module.body)
    suite = source.parent(created)
    guard = source.parent(suite) if isinstance(suite, cst.IndentedBlock) else None
    if isinstance(suite, cst.IndentedBlock) and guard in source.module.body:
        return list(suite.body) if guard is not None and _is_main_guard(guard) else None
    return None


def find_apps(tree: SourceTree) -> list[AppSite]:
    sites: list[AppSite] = []
    for source in tree.with_text("Starlette(", "FastAPI(", "Flask("):
        imports = imported_names(source.module)
        for node in walk(source.module):
            created = _created_app(node, imports)
            if created is None:
                returned = _returned_app(source, node, imports)
                if returned is not None:
                    sites.append(_returned_site(tree, source, node, *returned))
                continue
            assert isinstance(node, cst.SimpleStatementLine)
            framework, variable = created
            factory = enclosing_function(source, node)
            body = _block(source, node, factory)
            if body is None:
                continue  # an app built inside a branch: not the one the server runs
            anchor, before = _anchor(body, node, variable)
            site = AppSite(source, framework, variable, node, factory, anchor, before)
            site.uses = [Router(source, variable, body, _constructor(node))]
            if factory is not None:
                site.uses += _bound_results(tree, factory)
            elif body is source.module.body or node in source.module.body:
                site.uses += _importers(tree, source, variable)
            site.migrated = any(_installed(u.statements, u.variable) for u in site.uses)
            site.mcp = mcp_routes(tree, site.uses)
            sites.append(site)
    return sites


def _returned_site(
    tree: SourceTree,
    source: SourceFile,
    statement: cst.CSTNode,
    framework: str,
    call: cst.Call,
    factory: cst.FunctionDef,
) -> AppSite:
    assert isinstance(statement, cst.SimpleStatementLine)
    variable = _free_name(factory)
    site = AppSite(source, framework, variable, statement, factory, statement, True, bind=call)
    assert isinstance(factory.body, cst.IndentedBlock)
    site.uses = [Router(source, variable, factory.body.body, call)]
    site.uses += _bound_results(tree, factory)
    site.migrated = any(_installed(u.statements, u.variable) for u in site.uses)
    site.mcp = mcp_routes(tree, site.uses)
    return site


def _constructor(statement: cst.SimpleStatementLine) -> cst.Call:
    small = statement.body[0]
    assert isinstance(small, cst.Assign | cst.AnnAssign) and isinstance(small.value, cst.Call)
    return small.value


def _importers(tree: SourceTree, home: SourceFile, variable: str) -> list[Router]:
    """Modules that import a module-level app (``from pkg import app``) and add routes to
    it at their top level."""
    found = []
    # Only files with a ``from ... import`` line naming the variable are parsed.
    names = r"(\([^)]*|[^\n]*)"  # a parenthesised list may span lines
    line = re.compile(rf"^\s*from\s+\S+\s+import\s*{names}\b{re.escape(variable)}\b", re.M)
    for source in tree.with_text(variable):
        if source is home or not line.search(source.text):
            continue
        for local, target in imported_names(source.module).items():
            module, _, name = target.rpartition(".")
            if name == variable and module and module_named(tree, source, module) is home:
                found.append(Router(source, local, source.module.body))
    return found


def _bound_results(tree: SourceTree, factory: cst.FunctionDef) -> list[Router]:
    """Each place a factory's app is bound to a name (``app = create_app()``, in any
    module, at its top level or in its ``__main__`` block) with the statements there:
    routes may be added and the runtime installed on the app after the factory returns."""
    found = []
    for source, call in _callers(tree, factory.name.value):
        statement = source.parent(call)
        line = source.parent(statement) if statement is not None else None
        if not isinstance(statement, cst.Assign) or statement.value is not call:
            continue
        target = statement.targets[0].target
        if not isinstance(line, cst.SimpleStatementLine) or not isinstance(target, cst.Name):
            continue
        block = _block(source, line, enclosing_function(source, call))
        if block is not None:
            found.append(Router(source, target.value, block))
    return found


# -- apps the kit cannot install into --------------------------------------------------


@dataclass(frozen=True)
class UnsupportedApp:
    framework: str
    where: str


def find_unsupported_apps(tree: SourceTree) -> list[UnsupportedApp]:
    """Apps of frameworks without a runtime adapter (aiohttp, Django, Azure Functions, ...)
    and plain ASGI callables (``async def app(scope, receive, send)``, or an instance of a
    class whose ``__call__`` takes them), each at the line that makes it."""
    found: list[UnsupportedApp] = []
    for source in tree.with_text(*_UNSUPPORTED_MARKERS):
        imports = imported_names(source.module)
        asgi_classes = _asgi_classes(source.module)
        for statement in source.module.body:
            found += _unsupported_in(source, statement, imports, asgi_classes)
    return found


_UNSUPPORTED_MARKERS = ("receive, send", *sorted({n.split(".")[-1] + "(" for n in UNSUPPORTED}))


def _asgi_classes(module: cst.Module) -> set[str]:
    names = set()
    for statement in module.body:
        if isinstance(statement, cst.ClassDef):
            for node in walk(statement.body):
                if (
                    isinstance(node, cst.FunctionDef)
                    and node.name.value == "__call__"
                    and parameters(node)[1:] == ASGI_PARAMETERS
                ):
                    names.add(statement.name.value)
    return names


def _unsupported_in(
    source: SourceFile, statement: cst.CSTNode, imports: dict[str, str], asgi: set[str]
) -> list[UnsupportedApp]:
    if isinstance(statement, cst.FunctionDef):
        if statement.asynchronous is not None and parameters(statement) == ASGI_PARAMETERS:
            return [UnsupportedApp("a plain ASGI callable", source.where(statement))]
        return []
    if isinstance(statement, cst.If) and _is_main_guard(statement):
        return [u for s in statement.body.body for u in _unsupported_in(source, s, imports, asgi)]
    if not isinstance(statement, cst.SimpleStatementLine):
        return []
    for node in walk(statement):
        if not isinstance(node, cst.Call):
            continue
        framework = UNSUPPORTED.get(qualified(node.func, imports) or "")
        if framework is None and dotted(node.func) in asgi:
            framework = "a plain ASGI callable"
        if framework is not None:
            return [UnsupportedApp(framework, source.where(statement))]
    return []


# -- the issuer, followed back from the metadata document -------------------------------


def _callers(tree: SourceTree, name: str) -> list[tuple[SourceFile, cst.Call]]:
    found = []
    for source in tree.with_text(name + "("):
        for node in walk(source.module):
            if isinstance(node, cst.Call) and (dotted(node.func) or "").split(".")[-1] == name:
                found.append((source, node))
    return found


def _argument_for(
    call: cst.Call, function: cst.FunctionDef, name: str
) -> cst.BaseExpression | None:
    params = parameters(function)
    if params and params[0] in ("self", "cls"):
        params = params[1:]
    for index, arg in enumerate(call.args):
        if arg.keyword is not None and arg.keyword.value == name:
            return arg.value
        if arg.keyword is None and index < len(params) and params[index] == name:
            return arg.value
    return None


def _local_value(function: cst.FunctionDef, name: str) -> cst.BaseExpression | None:
    values = []
    for statement in walk(function.body):
        if isinstance(statement, cst.SimpleStatementLine) and name in assigned_names(statement):
            small = statement.body[0]
            if isinstance(small, cst.Assign | cst.AnnAssign) and small.value is not None:
                values.append(small.value)
    return values[0] if len(values) == 1 else None


def _module_globals(source: SourceFile) -> set[str]:
    names = set(imported_names(source.module))
    for statement in source.module.body:
        names |= assigned_names(statement)
        if isinstance(statement, cst.FunctionDef | cst.ClassDef):
            names.add(statement.name.value)
    return names


class _AppRewriter(cst.CSTTransformer):
    """``request.app.X`` and ``current_app.X`` become ``<app>.X``."""

    def __init__(self, variable: str) -> None:
        self.variable = variable
        self.touched = False

    def leave_Attribute(
        self, original_node: cst.Attribute, updated_node: cst.Attribute
    ) -> cst.BaseExpression:
        if dotted(updated_node) == "request.app":
            self.touched = True
            return cst.Name(self.variable)
        return updated_node

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.BaseExpression:
        if updated_node.value == "current_app":
            self.touched = True
            return cst.Name(self.variable)
        return updated_node


def resolve_issuer(tree: SourceTree, producer: MetadataProducer, app: AppSite) -> Issuer | None:
    if producer.issuer is None:
        return None
    return _resolve(tree, producer.source, producer.function, producer.issuer, app, depth=0)


def _resolve(
    tree: SourceTree,
    source: SourceFile,
    function: cst.FunctionDef | None,
    expr: cst.BaseExpression,
    app: AppSite,
    depth: int,
) -> Issuer | None:
    if depth > 4:
        return None
    if isinstance(expr, cst.Name) and function is not None:
        name = expr.value
        if name in parameters(function):
            return _resolve_parameter(tree, function, name, app, depth)
        local = _local_value(function, name)
        if local is not None:
            return _resolve(tree, source, function, local, app, depth + 1)
    rewriter = _AppRewriter(app.variable)
    rewritten = expr.visit(rewriter)
    assert isinstance(rewritten, cst.BaseExpression)
    free = names_in(rewritten) - {app.variable}
    if "request" in free or "self" in free:
        return None
    module_names = _module_globals(source)
    if not free <= module_names:
        return None
    imports = []
    if source is not app.source:
        imports = [(module_name(source.rel), n) for n in sorted(free)]
    return Issuer(rewritten, imports, source.where(expr))


def _resolve_parameter(
    tree: SourceTree, function: cst.FunctionDef, name: str, app: AppSite, depth: int
) -> Issuer | None:
    found: list[Issuer] = []
    for caller_source, call in _callers(tree, function.name.value):
        argument = _argument_for(call, function, name)
        if argument is None:
            continue
        caller = enclosing_function(caller_source, call)
        resolved = _resolve(tree, caller_source, caller, argument, app, depth + 1)
        if resolved is None:
            return None
        found.append(resolved)
    codes = {cst.Module([]).code_for_node(i.expression) for i in found}
    return found[0] if len(codes) == 1 else None
