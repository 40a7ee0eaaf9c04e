"""Find servers whose authorization server is an MCP SDK provider, and what to change in them.

The official SDK (``FastMCP`` in ``mcp.server.fastmcp``, 1.x; ``MCPServer`` in
``mcp.server.mcpserver``, 2.x) and the ``fastmcp`` package own the HTTP side (RFC 8414
metadata, ``/token``, the bearer check) and call into a provider object: a class with the
methods of the SDK's ``OAuthAuthorizationServerProvider`` protocol, subclass or not, passed
as ``auth_server_provider=`` (or as ``auth=`` to fastmcp, whose ``OAuthProvider`` is one).
The provider is recognised by those methods, never by its name or base class.

For each server this finder reports: the provider class; the statement that builds the
server object (``oauth_migration.install_mcp(<server>)`` goes right after it); the apps it
builds (``streamable_http_app()``, ``sse_app()``, ``http_app()``) or its ``run()``; the SDK
and its major version; the access-token mints of ``exchange_authorization_code`` and
``exchange_refresh_token`` as :class:`~migrate.scan.minting.MintSite` objects, found from
where the value goes (the ``access_token`` of the response, the ``token`` of the record,
the key of the store the gate reads) and traced back through assignments, records and
helper methods; the gate (``load_access_token``, else fastmcp's ``verify_token``) as a
:class:`~migrate.scan.gates.BearerGate`; the store kind. Refresh tokens, codes and client
secrets are never mints: only the value that reaches an access-token sink is.

A server with no notion of a user gets ``sub`` = the client id (RFC 9068 §2.2): a
:class:`Decision` the plan states and the operator may override, not a manual step.
"""

from __future__ import annotations

import builtins
import dataclasses
import re
from collections.abc import Iterator
from pathlib import PurePosixPath

import libcst as cst

from migrate import runtime_api
from migrate.scan.deletes import TokenStore
from migrate.scan.findings import ManualStep
from migrate.scan.gates import BearerGate, token_lookup
from migrate.scan.minting import (
    FIELD_ROLES,
    MINT_CALL,
    PRIMITIVES,
    MintSite,
    _scalars_only,
    claim_sources,
    random_helpers,
    random_value,
)
from migrate.scan.source import SourceFile, SourceTree
from migrate.scan.stores import UNKNOWN_STORE, Reached, read_store
from migrate.scan.syntax import (
    assigned_names,
    dotted,
    enclosing_function,
    imported_names,
    keyword_value,
    names_in,
    parameters,
    qualified,
    string_value,
    walk,
)

PROTOCOL = frozenset(
    {
        "get_client", "register_client", "authorize", "load_authorization_code",
        "exchange_authorization_code", "load_refresh_token", "exchange_refresh_token",
        "load_access_token", "revoke_token", "verify_token",
    }
)  # fmt: skip
EXCHANGES = ("exchange_authorization_code", "exchange_refresh_token")
GATE_METHODS = ("load_access_token", "verify_token")
APP_METHODS = frozenset({"streamable_http_app", "sse_app", "http_app", "run"})
INSTALL_CALL = runtime_api.INSTALL_MCP
GUIDE = "Manual steps: SDK provider"
# Server constructors by import path: the path says the SDK and, for mcp, its major.
SDK_PATHS: tuple[tuple[str, str, int | None], ...] = (
    ("mcp.server.fastmcp", "mcp", 1),
    ("mcp.server.mcpserver", "mcp", 2),
    ("fastmcp", "fastmcp", None),
)
REQUIREMENT_FILES = ("requirements.txt", "requirements.in", "pyproject.toml", "setup.cfg")
_REQUIREMENT = re.compile(
    r"""^\s*["']?(?P<name>fastmcp|mcp)(\[[^\]]*\])?\s*(?P<spec>[<>=!~][^;#"'\n]*)?""",
    re.IGNORECASE | re.MULTILINE,
)
_HASHED = re.compile(r"(sha\d+|sha3_\d+|blake2[bs]|hash\w*)\(\s*[\w.]*token", re.IGNORECASE)
_MAX_DEPTH = 3
QUOTES = "\"' "


@dataclasses.dataclass(frozen=True)
class ProviderClass:
    """A class with the SDK provider's methods (its own or inherited from tree classes)."""

    source: SourceFile
    node: cst.ClassDef
    # method name -> (file, definition), base classes' methods included
    methods: tuple[tuple[str, SourceFile, cst.FunctionDef], ...]

    @property
    def name(self) -> str:
        return self.node.name.value

    @property
    def where(self) -> str:
        return self.source.where(self.node)

    def method(self, name: str) -> tuple[SourceFile, cst.FunctionDef] | None:
        return next(((s, f) for n, s, f in self.methods if n == name), None)


@dataclasses.dataclass(frozen=True)
class ServerSite:
    """``<variable> = FastMCP(..., auth_server_provider=...)``: the statement to install after."""

    source: SourceFile
    statement: cst.SimpleStatementLine
    call: cst.Call
    variable: str
    constructor: str  # qualified: ``mcp.server.fastmcp.FastMCP``
    migrated: bool = False

    @property
    def where(self) -> str:
        return self.source.where(self.statement)


@dataclasses.dataclass(frozen=True)
class AppUse:
    """Where the server builds an app (``app = mcp.streamable_http_app()``) or runs."""

    where: str
    method: str
    variable: str | None  # the app's name; None for ``run()`` or an unnamed app


@dataclasses.dataclass(frozen=True)
class Sdk:
    package: str  # "mcp" or "fastmcp"
    major: int | None
    evidence: str  # the requirement line or the import it was read from


@dataclasses.dataclass(frozen=True)
class StoreKind:
    persistent: bool
    kinds: tuple[str, ...]  # "SQLite", "JSON file", ...; ("dicts on the provider",) in memory
    hashed: bool  # tokens kept as a digest (``sha256(token)``), not as themselves
    where: str

    @property
    def text(self) -> str:
        state = "persistent" if self.persistent else "in memory"
        hashed = ", hashed at rest" if self.hashed else ""
        return f"{state}: {', '.join(self.kinds)}{hashed}"


@dataclasses.dataclass(frozen=True)
class Decision:
    """A choice the kit made that the plan states and the operator may override."""

    where: str
    text: str
    override: str


@dataclasses.dataclass(frozen=True)
class ProviderServer:
    provider: ProviderClass
    server: ServerSite
    apps: tuple[AppUse, ...]
    sdk: Sdk
    mints: tuple[MintSite, ...]
    gate: BearerGate | None
    store: StoreKind
    decisions: tuple[Decision, ...]

    @property
    def where(self) -> str:
        return self.server.where

    def token_store(self) -> TokenStore:
        """What revoke-on-delete needs: the store the gate reads access tokens from."""
        owner = _store_owner(self.gate) if self.gate is not None else None
        names = {owner} if owner else set()
        if owner and owner.count(".") >= 2:
            # ``self.store.access``: the store object's own methods name it ``self.access``
            # (a delete there too must revoke; a revoke of anything else is a no-op).
            names.add(f"self.{owner.rpartition('.')[2]}")
        return TokenStore(names=frozenset(names))


# -- provider classes -------------------------------------------------------------------


def _own_methods(node: cst.ClassDef) -> list[cst.FunctionDef]:
    return [s for s in node.body.body if isinstance(s, cst.FunctionDef)]


def _base_names(node: cst.ClassDef) -> list[str]:
    bases = [dotted(b.value) or "" for b in node.bases]
    return [b.rpartition(".")[2] for b in bases if b]


def find_provider_classes(tree: SourceTree) -> list[ProviderClass]:
    """Classes holding the provider protocol's methods: the two exchanges' ancestor
    ``exchange_authorization_code``, a token entry point, and at least three in all."""
    classes: dict[str, tuple[SourceFile, cst.ClassDef]] = {}
    for source in tree.with_text("exchange_", "load_access_token", "verify_token"):
        for node in walk(source.module):
            if isinstance(node, cst.ClassDef):
                classes.setdefault(node.name.value, (source, node))
    found = []
    for source, node in classes.values():
        methods = _resolved_methods(node, source, classes, 0)
        names = {name for name, _, _ in methods}
        entry = any(m in names for m in GATE_METHODS)
        if "exchange_authorization_code" in names and entry and len(names & PROTOCOL) >= 3:
            found.append(ProviderClass(source, node, tuple(methods)))
    return found


def _resolved_methods(
    node: cst.ClassDef,
    source: SourceFile,
    classes: dict[str, tuple[SourceFile, cst.ClassDef]],
    depth: int,
) -> list[tuple[str, SourceFile, cst.FunctionDef]]:
    """The class's methods, then those its tree bases add (the first definition wins)."""
    methods = [(f.name.value, source, f) for f in _own_methods(node)]
    if depth < _MAX_DEPTH:
        for base in _base_names(node):
            if base in classes and classes[base][1] is not node:
                base_source, base_node = classes[base]
                methods += _resolved_methods(base_node, base_source, classes, depth + 1)
    first: dict[str, tuple[str, SourceFile, cst.FunctionDef]] = {}
    for method in methods:
        first.setdefault(method[0], method)
    return list(first.values())


# -- the server object --------------------------------------------------------------------


class _Index:
    """Module-level functions and assignments of the tree, by name."""

    def __init__(self, tree: SourceTree) -> None:
        self.functions: dict[str, list[tuple[SourceFile, cst.FunctionDef]]] = {}
        self.values: dict[str, list[tuple[SourceFile, cst.BaseExpression]]] = {}
        markers = ("auth_server_provider", "auth=", "auth =", "Provider", "provider")
        for source in tree.with_text(*markers):
            for statement in source.module.body:
                if isinstance(statement, cst.FunctionDef):
                    entry = (source, statement)
                    self.functions.setdefault(statement.name.value, []).append(entry)
                for name, value in _bindings(statement):
                    self.values.setdefault(name, []).append((source, value))


def _bindings(statement: cst.CSTNode) -> Iterator[tuple[str, cst.BaseExpression]]:
    if not isinstance(statement, cst.SimpleStatementLine):
        return
    for small in statement.body:
        if isinstance(small, cst.Assign) and len(small.targets) == 1:
            target = small.targets[0].target
            if isinstance(target, cst.Name):
                yield target.value, small.value
        elif (
            isinstance(small, cst.AnnAssign)
            and small.value is not None
            and isinstance(small.target, cst.Name)
        ):
            yield small.target.value, small.value


def _local_value(
    source: SourceFile, node: cst.CSTNode, name: str
) -> list[tuple[SourceFile, cst.BaseExpression]]:
    """What ``name`` is bound to where ``node`` reads it: in its function, else its module."""
    function = enclosing_function(source, node)
    scopes: list[cst.CSTNode] = [function.body] if function is not None else []
    for scope in scopes:
        found = [
            (source, value)
            for statement in walk(scope)
            for bound, value in _bindings(statement)
            if bound == name
        ]
        if found:
            return found
    return [(source, v) for s in source.module.body for n, v in _bindings(s) if n == name]


def _provider_of(
    source: SourceFile,
    expr: cst.BaseExpression,
    classes: dict[str, ProviderClass],
    index: _Index,
    depth: int = 0,
) -> ProviderClass | None:
    """The provider class ``expr`` is an instance of: built inline, held in a variable,
    returned by a factory, or imported from another module."""
    if depth > _MAX_DEPTH:
        return None
    if isinstance(expr, cst.Call):
        name = (dotted(expr.func) or "").rpartition(".")[2]
        if name in classes:
            return classes[name]
        for fsource, function in index.functions.get(name, []):
            for ret in walk(function.body):
                if isinstance(ret, cst.Return) and ret.value is not None:
                    found = _provider_of(fsource, ret.value, classes, index, depth + 1)
                    if found is not None:
                        return found
        return None
    if isinstance(expr, cst.Name):
        values = _local_value(source, expr, expr.value)
        if not values and expr.value in imported_names(source.module):
            values = index.values.get(expr.value, [])
        for vsource, value in values:
            found = _provider_of(vsource, value, classes, index, depth + 1)
            if found is not None:
                return found
    return None


def _server_calls(
    tree: SourceTree, classes: dict[str, ProviderClass], index: _Index
) -> Iterator[tuple[SourceFile, cst.Call, ProviderClass | None]]:
    """Calls given a provider: ``auth_server_provider=`` (any value) or ``auth=`` (a provider)."""
    for source in tree.with_text("auth_server_provider", "auth"):
        for node in walk(source.module):
            if not isinstance(node, cst.Call):
                continue
            for arg in node.args:
                keyword = arg.keyword.value if arg.keyword else None
                if keyword not in ("auth_server_provider", "auth"):
                    continue
                provider = _provider_of(source, arg.value, classes, index)
                if keyword == "auth_server_provider" or provider is not None:
                    yield source, node, provider


def _server_site(source: SourceFile, call: cst.Call) -> ServerSite | ManualStep:
    parent = source.parent(call)
    statement = source.parent(parent) if parent is not None else None
    target = None
    if isinstance(parent, cst.Assign) and len(parent.targets) == 1:
        target = parent.targets[0].target
    elif isinstance(parent, cst.AnnAssign):
        target = parent.target
    if not isinstance(target, cst.Name) or not isinstance(statement, cst.SimpleStatementLine):
        return ManualStep(
            source.where(call),
            "an MCP server given an OAuth provider, bound to a name (`mcp = FastMCP(...)`)",
            "bind the server to a name, then add `oauth_migration.install_mcp(<name>)` "
            "on the next line",
            GUIDE,
            blocks_apply=True,
        )
    imports = imported_names(source.module)
    constructor = qualified(call.func, imports) or ""
    installed = any(
        isinstance(n, cst.Call)
        and (dotted(n.func) or "").endswith(f".{INSTALL_CALL}")
        and any(isinstance(a.value, cst.Name) and a.value.value == target.value for a in n.args)
        for n in walk(source.module)
    )
    return ServerSite(source, statement, call, target.value, constructor, installed)


# -- apps and SDK ---------------------------------------------------------------------------


def _module_name(rel: str) -> str:
    path = PurePosixPath(rel).with_suffix("")
    parts = path.parts[:-1] if path.name == "__init__" else path.parts
    return ".".join(parts)


def _local_names(tree: SourceTree, server: ServerSite) -> Iterator[tuple[SourceFile, str]]:
    """The server's own file with its name, and files importing it, with their name for it."""
    yield server.source, server.variable
    module = _module_name(server.source.rel)
    for source in tree.with_text(server.variable):
        if source is server.source:
            continue
        for local, full in imported_names(source.module).items():
            origin, _, name = full.rpartition(".")
            same = origin == module or module.endswith(f".{origin.lstrip('.')}")
            if name == server.variable and (same or origin.startswith(".")):
                yield source, local


def find_apps(tree: SourceTree, server: ServerSite) -> list[AppUse]:
    found = []
    for source, name in _local_names(tree, server):
        for node in walk(source.module):
            if not (isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute)):
                continue
            method = node.func.attr.value
            if method not in APP_METHODS or dotted(node.func.value) != name:
                continue
            parent = source.parent(node)
            variable = None
            if isinstance(parent, cst.Assign) and isinstance(parent.targets[0].target, cst.Name):
                variable = parent.targets[0].target.value
            found.append(AppUse(source.where(node), method, variable))
    return found


def _major(spec: str) -> int | None:
    """The one major version a requirement allows: ``==2.3.0``, ``~=1.9``, ``>=1.20,<2``."""
    pins = re.findall(r"(===|==|~=|>=|>|<=|<)\s*(\d+)(?:\.(\d+))?", spec)
    lower = {int(major) for op, major, _ in pins if op in ("===", "==", "~=", ">=", ">")}
    upper = set()
    for op, major, minor in pins:
        if op == "<":
            upper.add(int(major) - 1 if not minor or int(minor) == 0 else int(major))
        elif op == "<=":
            upper.add(int(major))
    exact = {int(major) for op, major, _ in pins if op in ("===", "==", "~=")}
    if exact:
        return exact.pop() if len(exact) == 1 else None
    if lower and upper and lower == upper:
        return lower.pop()
    return None


def find_sdk(tree: SourceTree, server: ServerSite) -> Sdk:
    """The SDK from the server's import path; its major from the tree's requirements
    when they pin one, else from the import path (mcp 1.x and 2.x name the server apart)."""
    package, major = "mcp", None
    for path, name, implied in SDK_PATHS:
        if server.constructor == path or server.constructor.startswith(f"{path}."):
            package, major = name, implied
            break
    evidence = f"{server.where} ({server.constructor or 'unknown import'})"
    for filename in REQUIREMENT_FILES:
        file = tree.root / filename
        text = file.read_text(encoding="utf-8", errors="replace") if file.is_file() else ""
        for match in _REQUIREMENT.finditer(text):
            if match.group("name").lower() != package:
                continue
            pinned = _major(match.group("spec") or "")
            if pinned is not None:
                return Sdk(package, pinned, f"{filename}: {match.group(0).strip().strip(QUOTES)}")
    return Sdk(package, major, evidence)


# -- the store ------------------------------------------------------------------------------


def _imported_files(tree: SourceTree, source: SourceFile) -> list[SourceFile]:
    """The tree's files that ``source`` imports (``from .db import connect``)."""
    package = PurePosixPath(source.rel).parent
    found = []
    for statement in source.module.body:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if not isinstance(small, cst.ImportFrom):
                continue
            module = (dotted(small.module) or "") if small.module else ""
            base = package
            for _ in range(max(len(small.relative) - 1, 0)):
                base = base.parent
            parts = module.split(".") if module else []
            root = base if small.relative else PurePosixPath()
            stem = root.joinpath(*parts) if parts else root
            for rel in (f"{stem}.py", f"{stem}/__init__.py"):
                if rel.removeprefix("./") in tree.files:
                    found.append(tree.files[rel.removeprefix("./")])
    return found


def find_store(tree: SourceTree, provider: ProviderClass, server: ServerSite) -> StoreKind:
    """Read from the provider class and its methods (base classes' too) and what they
    reach (:func:`migrate.scan.stores.read_store`): a database, a file format or Redis is
    persistent; dicts on the provider are memory; anything else is unknown, read as
    persistent."""
    files = {provider.source.rel: provider.source, server.source.rel: server.source}
    for source in (provider.source, server.source):
        files |= {f.rel: f for f in _imported_files(tree, source)}
    hashed = any(_HASHED.search(f.text) for f in files.values())
    seeds: list[Reached] = [(provider.source, provider.node)]
    seeds += [(s, f) for _, s, f in provider.methods]
    # What the provider is built with (``Provider(FileStore("t.json"))``): its store.
    seeds += [(server.source, a.value) for a in server.call.args if _names(a, provider.name)]
    reading = read_store(tree, seeds)
    if reading.kinds:
        return StoreKind(True, reading.kinds, hashed, provider.where)
    if reading.in_memory:
        return StoreKind(False, ("dicts on the provider",), hashed, provider.where)
    return StoreKind(True, (UNKNOWN_STORE,), hashed, provider.where)


def _names(arg: cst.Arg, name: str) -> bool:
    """The argument holds the provider (``InlineProvider(...)``, ``provider``)."""
    code = cst.Module([]).code_for_node(arg.value)
    return (
        name in code
        or arg.keyword is not None
        and arg.keyword.value in ("auth_server_provider", "auth")
    )


# -- the gate -------------------------------------------------------------------------------


def find_provider_gate(provider: ProviderClass) -> BearerGate | ManualStep:
    """The method the SDK hands the bearer token to: fastmcp's ``verify_token`` where the
    provider overrides it with a lookup of its own, else ``load_access_token``."""
    candidates = [_method_gate(provider, name) for name in GATE_METHODS]
    verify, load = candidates[1], candidates[0]
    if isinstance(verify, BearerGate) and not _delegates(verify):
        return verify
    if load is not None:
        return load
    assert verify is not None  # find_provider_classes: a provider has a gate method
    return verify


def _delegates(gate: BearerGate) -> bool:
    """``verify_token`` that only asks ``self.load_access_token``: that one is the gate."""
    lookup = gate.lookup
    return lookup is not None and "self.load_access_token" in gate.source.code(lookup.expression)


def _method_gate(provider: ProviderClass, name: str) -> BearerGate | ManualStep | None:
    found = provider.method(name)
    if found is None:
        return None
    source, function = found
    params = [p for p in parameters(function) if p not in ("self", "cls")]
    if "oauth_migration.resolve" in source.code(function):
        return BearerGate(source, function, None, migrated=True)
    lookup = token_lookup(source, function, params[0]) if params else None
    if lookup is not None:
        return BearerGate(source, function, lookup)
    return ManualStep(
        source.where(function),
        f"a lookup of the presented token in {provider.name}.{name}() bound to a name "
        "and tested, or returned",
        f"write `record = await oauth_migration.resolve_async({(params or ['token'])[0]}, "
        "legacy=lambda t: <the lookup of t>)` in place of the lookup",
        "Manual steps: gate",
    )


def _store_owner(gate: BearerGate | ManualStep) -> str | None:
    """``self.access_tokens`` of ``self.access_tokens.get(token)``: where access tokens live."""
    if not isinstance(gate, BearerGate) or gate.lookup is None:
        return None
    expr = gate.lookup.expression
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute):
        return dotted(expr.func.value)
    if isinstance(expr, cst.Subscript):
        return dotted(expr.value)
    return None


# -- the mints ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Trace:
    source: SourceFile
    function: cst.FunctionDef
    mint: cst.BaseExpression
    migrated: bool
    records: tuple[cst.Call, ...]  # record constructions that hold the minted value


def _sinks(function: cst.FunctionDef, store: str | None) -> list[cst.BaseExpression]:
    """Where an access token goes: ``access_token=`` / ``"access_token":`` of the response,
    ``token=`` of an access-token record, the key of the store the gate reads."""
    found: list[cst.BaseExpression] = []
    for node in walk(function.body):
        response = (
            isinstance(node, cst.Arg) and node.keyword and node.keyword.value == "access_token"
        ) or (isinstance(node, cst.DictElement) and string_value(node.key) == "access_token")
        if response:
            assert isinstance(node, cst.Arg | cst.DictElement)
            found.append(node.value)
        elif isinstance(node, cst.Assign) and store is not None:
            for target in node.targets:
                sub = target.target
                if isinstance(sub, cst.Subscript) and dotted(sub.value) == store:
                    index = sub.slice[0].slice
                    if isinstance(index, cst.Index):
                        found.append(index.value)
    return found


def _assigned(function: cst.FunctionDef, name: str) -> Iterator[cst.BaseExpression]:
    """Values bound to ``name`` in ``function``, tuple unpacking matched by position."""
    for node in walk(function.body):
        if not isinstance(node, cst.Assign) or len(node.targets) != 1:
            continue
        target, value = node.targets[0].target, node.value
        if isinstance(target, cst.Name) and target.value == name:
            yield value
        elif isinstance(target, cst.Tuple) and isinstance(value, cst.Tuple):
            names = [e.value for e in target.elements]
            if len(names) == len(value.elements):
                for element, item in zip(names, value.elements, strict=True):
                    if isinstance(element, cst.Name) and element.value == name:
                        yield item.value


def _trace(
    source: SourceFile,
    function: cst.FunctionDef,
    expr: cst.BaseExpression,
    helpers: frozenset[str],
    depth: int = 0,
) -> _Trace | None:
    """Follow an access token's value back to where it is made."""
    if depth > _MAX_DEPTH:
        return None
    if isinstance(expr, cst.Call) and (dotted(expr.func) or "").endswith(MINT_CALL):
        return _Trace(source, function, expr, True, ())
    if random_value(source, expr, helpers):
        return _Trace(source, function, expr, False, ())
    if isinstance(expr, cst.Name):
        for value in _assigned(function, expr.value):
            found = _trace(source, function, value, helpers, depth + 1)
            if found is not None:
                return found
    if isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name):
        # ``g.access_token`` of ``g = Grant(access_token=...)``: that keyword's value
        for value in _assigned(function, expr.value.value):
            given = keyword_value(value, expr.attr.value) if isinstance(value, cst.Call) else None
            if given is not None:
                found = _trace(source, function, given, helpers, depth + 1)
                if found is not None:
                    assert isinstance(value, cst.Call)
                    return dataclasses.replace(found, records=(*found.records, value))
    return None


def _callees(provider: ProviderClass, function: cst.FunctionDef) -> Iterator[cst.FunctionDef]:
    """Methods of the provider that ``function`` returns the result of (``self._issue(...)``)."""
    for node in walk(function.body):
        if isinstance(node, cst.Return) and isinstance(node.value, cst.Call):
            name = dotted(node.value.func) or ""
            if name.startswith("self."):
                found = provider.method(name.removeprefix("self."))
                if found is not None:
                    yield found[1]


@dataclasses.dataclass(frozen=True)
class _Untraced:
    """A response's access token the scan cannot follow, beside one it can (a second
    branch of the same exchange): left opaque, it would be a half-migrated provider."""

    source: SourceFile
    function: cst.FunctionDef
    sink: cst.BaseExpression


def _response_sinks(function: cst.FunctionDef) -> list[cst.BaseExpression]:
    """The ``access_token=`` / ``"access_token":`` values of the responses ``function`` builds."""
    return _sinks(function, None)


def _exchange_traces(
    provider: ProviderClass, name: str, store: str | None, helpers: frozenset[str]
) -> list[_Trace | _Untraced]:
    found = provider.method(name)
    if found is None:
        return []
    pending: list[tuple[SourceFile, cst.FunctionDef, int]] = [(found[0], found[1], 0)]
    traces: list[_Trace | _Untraced] = []
    seen: set[int] = set()
    while pending:
        source, function, depth = pending.pop(0)
        if id(function) in seen or depth > _MAX_DEPTH:
            continue
        seen.add(id(function))
        here = [t for s in _sinks(function, store) if (t := _trace(source, function, s, helpers))]
        if here:
            traces.append(here[0])
            traces += [
                _Untraced(source, function, sink)
                for sink in _response_sinks(function)
                if _trace(source, function, sink, helpers) is None
            ]
            continue
        for callee in _callees(provider, function):
            callee_source = next(s for n, s, f in provider.methods if f is callee)
            pending.append((callee_source, callee, depth + 1))
    return traces


def _records_holding(trace: _Trace) -> list[dict[str, cst.BaseExpression]]:
    """Fields of the records kept with the token: built with the mint or the name bound to
    it (``AccessToken(token=access, ...)``), or stored under it (``store[access] = {...}``)."""
    parent = trace.source.parent(trace.mint)
    calls = list(trace.records)
    if isinstance(parent, cst.Arg):
        call = trace.source.parent(parent)
        if isinstance(call, cst.Call):
            calls.append(call)
    bound = _bound_name(trace)
    for node in walk(trace.function.body):
        if isinstance(node, cst.Call) and any(
            isinstance(a.value, cst.Name) and a.value.value == bound for a in node.args
        ):
            calls.append(node)
    records = [{a.keyword.value: a.value for a in c.args if a.keyword is not None} for c in calls]
    return records + _stored_dicts(trace.function, bound)


def _stored_dicts(
    function: cst.FunctionDef, bound: str | None
) -> list[dict[str, cst.BaseExpression]]:
    """``store[<bound>] = {"client_id": ..., "scopes": ...}``: the dict literal's fields."""
    found = []
    for node in walk(function.body):
        if not isinstance(node, cst.Assign) or not isinstance(node.value, cst.Dict):
            continue
        for target in node.targets:
            sub = target.target
            index = sub.slice[0].slice if isinstance(sub, cst.Subscript) else None
            if isinstance(index, cst.Index) and dotted(index.value) == bound:
                found.append(
                    {
                        key: e.value
                        for e in node.value.elements
                        if isinstance(e, cst.DictElement)
                        and (key := string_value(e.key)) is not None
                    }
                )
    return found


def _bound_name(trace: _Trace) -> str | None:
    parent = trace.source.parent(trace.mint)
    if isinstance(parent, cst.Assign) and isinstance(parent.targets[0].target, cst.Name):
        return parent.targets[0].target.value
    if isinstance(parent, cst.Element):
        tup = trace.source.parent(parent)
        assign = trace.source.parent(tup) if tup is not None else None
        if isinstance(tup, cst.Tuple) and isinstance(assign, cst.Assign):
            target = assign.targets[0].target
            if isinstance(target, cst.Tuple):
                position = list(tup.elements).index(parent)
                element = target.elements[position].value
                return element.value if isinstance(element, cst.Name) else None
    return None


def _visible(trace: _Trace) -> set[str]:
    """Names the mint's statement may read: parameters, names bound before it, the module's."""
    rank = trace.source.order(trace.mint)
    names = set(parameters(trace.function))
    for node in walk(trace.function.body):
        if isinstance(node, cst.SimpleStatementLine) and trace.source.order(node) < rank:
            names |= assigned_names(node)
    module = trace.source.module
    names |= set(dir(builtins)) | set(imported_names(module))
    for statement in module.body:
        names |= assigned_names(statement)
    return names


def _claims(trace: _Trace) -> dict[str, cst.BaseExpression]:
    """Claims from the records that hold the token (their fields say most), then from the
    function's parameters by name (``_issue(self, client_id, user, scopes)``)."""
    visible = _visible(trace)
    named = claim_sources(parameters(trace.function))
    claims = _scalars_only(trace.function, named)
    recorded: dict[str, cst.BaseExpression] = {}
    for fields in _records_holding(trace):
        for role, vocabulary in FIELD_ROLES.items():
            value = next((fields[n] for n in vocabulary if n in fields), None)
            if role not in recorded and value is not None and names_in(value) <= visible:
                recorded[role] = value
    claims |= recorded
    if "client_id" not in claims and "client" in parameters(trace.function):
        claims["client_id"] = cst.Attribute(cst.Name("client"), cst.Name("client_id"))
    return claims


def _owner_claim(
    provider: ProviderClass, exchange: str, trace: _Trace, helpers: frozenset[str]
) -> cst.BaseExpression | None:
    """The resource owner kept with the code or refresh token the exchange is handed: a
    field of its record (``authorization_code.user_id``) that the provider writes, or a
    side dict keyed by it (``user = self.owners.pop(authorization_code.code)``)."""
    params = [p for p in parameters(trace.function) if p not in ("self", "cls")]
    if trace.function.name.value != exchange or len(params) < 2:
        return None
    record = params[1]
    written = _record_fields(provider, exchange)
    field = next((f for f in _SUBJECT_FIELDS if f in written), None)
    if field is not None:
        return cst.Attribute(cst.Name(record), cst.Name(field))
    visible = _visible(trace)
    sides = _side_dicts(provider, helpers)
    for node in walk(trace.function.body):
        for name, value in _bindings(node):
            if name in visible and _reads_side(value, sides, record):
                return cst.Name(name)
    return None


_SUBJECT_FIELDS = FIELD_ROLES["subject"]


_LOADERS = {
    "exchange_authorization_code": "load_authorization_code",
    "exchange_refresh_token": "load_refresh_token",
}


def _record_fields(provider: ProviderClass, exchange: str) -> set[str]:
    """Fields of the record the exchange is handed: the record its loader returns, built
    there (``return RefreshToken(..., subject=row["user_id"])``) or read from a store
    (``self.codes.get(code)``) that the provider fills with ``self.codes[k] = Record(...)``.
    Only fields every such construction writes count: a field missing from one record
    would fail at runtime."""
    found = provider.method(_LOADERS.get(exchange, ""))
    if found is None:
        return set()
    _, loader = found
    built: list[cst.Call] = []
    for node in walk(loader.body):
        if isinstance(node, cst.Return) and node.value is not None:
            values = [node.value]
            if isinstance(node.value, cst.Name):
                values = list(_assigned(loader, node.value.value))
            for value in values:
                if isinstance(value, cst.Call) and _keyword_names(value) & {"code", "token"}:
                    built.append(value)
                elif (store := _read_store(value)) is not None:
                    built += _stored_records(provider, store)
    fields = [_keyword_names(call) for call in built]
    return set.intersection(*fields) if fields else set()


def _keyword_names(call: cst.Call) -> set[str]:
    return {a.keyword.value for a in call.args if a.keyword is not None}


def _read_store(value: cst.BaseExpression) -> str | None:
    """``self.codes`` of ``self.codes.get(k)`` or ``self.codes[k]``."""
    if isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute):
        return dotted(value.func.value) if value.func.attr.value in ("get", "pop") else None
    if isinstance(value, cst.Subscript):
        return dotted(value.value)
    return None


def _stored_records(provider: ProviderClass, store: str) -> list[cst.Call]:
    """The records the provider builds into ``store``: ``self.codes[code] = Record(...)``
    (a copy of a record, ``record.model_copy(...)``, keeps its fields: not counted)."""
    found = []
    for _, _, function in provider.methods:
        for node in walk(function.body):
            if (
                isinstance(node, cst.Assign)
                and isinstance(node.value, cst.Call)
                and _keyword_names(node.value) & {"code", "token"}
            ):
                for target in node.targets:
                    sub = target.target
                    if isinstance(sub, cst.Subscript) and dotted(sub.value) == store:
                        found.append(node.value)
    return found


def _side_dicts(provider: ProviderClass, helpers: frozenset[str]) -> set[str]:
    """``self.owners`` of ``self.owners[code] = self.demo_user``: dicts of plain values
    (not records, not tokens: ``self.pairs[refresh] = access``) keyed by what it issues."""
    found: set[str] = set()
    for _, source, function in provider.methods:
        for node in walk(function.body):
            if not isinstance(node, cst.Assign) or isinstance(node.value, cst.Call | cst.Tuple):
                continue
            if _trace(source, function, node.value, helpers) is not None:
                continue  # a token's value: a pairing, not an owner
            for target in node.targets:
                sub = target.target
                if isinstance(sub, cst.Subscript) and (owner := dotted(sub.value)):
                    found.add(owner)
    return found


def _reads_side(value: cst.BaseExpression, sides: set[str], record: str) -> bool:
    """``self.owners.pop(<record>.code, ...)``, ``.get(...)`` or ``self.owners[<record>.token]``."""
    if isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and value.args:
        owner, key = dotted(value.func.value), value.args[0].value
        reads = value.func.attr.value in ("get", "pop") and owner in sides
    elif isinstance(value, cst.Subscript) and isinstance(value.slice[0].slice, cst.Index):
        owner, key = dotted(value.value), value.slice[0].slice.value
        reads = owner in sides
    else:
        return False
    return reads and isinstance(key, cst.Attribute) and dotted(key.value) == record


def _mint_site(
    provider: ProviderClass, exchange: str, trace: _Trace, helpers: frozenset[str]
) -> tuple[MintSite | None, ManualStep | None, Decision | None]:
    if trace.migrated:
        return MintSite(trace.source, trace.mint, trace.function, migrated=True), None, None
    claims = _claims(trace)
    if "subject" not in claims:
        owner = _owner_claim(provider, exchange, trace, helpers)
        claims |= {"subject": owner} if owner is not None else {}
    decision = None
    where = trace.source.where(trace.mint)
    if "subject" not in claims and "client_id" in claims:
        claims["subject"] = claims["client_id"]
        decision = Decision(
            where,
            f"{provider.name} keeps no resource owner with its codes or tokens: `sub` is the "
            "client id (RFC 9068 §2.2)",
            "pass the user's id as `subject=` in this `oauth_migration.mint_access_token(...)`",
        )
    missing = [r for r in ("client_id", "scope") if r not in claims]
    if missing:
        manual = ManualStep(
            where,
            f"an access token minted in {trace.function.name.value}() without "
            f"{', '.join(missing)} in scope",
            f"replace `{trace.source.code(trace.mint)}` with "
            "`oauth_migration.mint_access_token(subject=..., client_id=..., scope=..., "
            "resource=...)`",
            "Manual steps: minting",
        )
        return None, manual, None
    return MintSite(trace.source, trace.mint, trace.function, claims), None, decision


def find_provider_mints(
    provider: ProviderClass, gate: BearerGate | ManualStep, helpers: frozenset[str]
) -> tuple[list[MintSite], list[ManualStep], list[Decision]]:
    sites: list[MintSite] = []
    manual: list[ManualStep] = []
    decisions: list[Decision] = []
    seen: set[int] = set()
    store = _store_owner(gate)
    for name in EXCHANGES:
        traces = _exchange_traces(provider, name, store, helpers)
        found = provider.method(name)
        issues = found is not None and any(
            isinstance(n, cst.Return) and n.value is not None for n in walk(found[1].body)
        )
        if not traces and found is not None and issues:  # one that only raises issues nothing
            manual.append(
                ManualStep(
                    found[0].where(found[1]),
                    f"the access token {provider.name}.{name}() issues, traced to a random "
                    f"value ({', '.join(sorted(PRIMITIVES))} or a helper returning one)",
                    "replace the expression that makes the access token with "
                    "`oauth_migration.mint_access_token(subject=..., client_id=..., "
                    "scope=..., resource=...)`",
                    "Manual steps: minting",
                )
            )
        for trace in traces:
            if isinstance(trace, _Untraced):
                manual.append(_untraced_mint(provider, name, trace))
                continue
            if id(trace.mint) in seen:
                continue  # one helper issues the tokens of both grants
            seen.add(id(trace.mint))
            site, step, decision = _mint_site(provider, name, trace, helpers)
            sites += [site] if site else []
            manual += [step] if step else []
            decisions += [decision] if decision else []
    return sites, manual, decisions


def _untraced_mint(provider: ProviderClass, name: str, left: _Untraced) -> ManualStep:
    code = left.source.code(left.sink)
    return ManualStep(
        left.source.where(left.sink),
        f"the access token `{code}` that {provider.name}.{name}() also issues, traced to "
        "a random value like its other access tokens",
        "make this branch mint with `oauth_migration.mint_access_token(subject=..., "
        "client_id=..., scope=..., resource=...)` too (or route it through the traced "
        "mint): left opaque, it would be refused in the final phase",
        "Manual steps: minting",
        blocks_apply=True,
    )


# -- the finder -----------------------------------------------------------------------------


def find_provider_servers(tree: SourceTree) -> tuple[list[ProviderServer], list[ManualStep]]:
    """Every server built on an SDK provider, with what the migration changes in it."""
    classes = {c.name: c for c in find_provider_classes(tree)}
    if not classes:
        return [], []
    index = _Index(tree)
    helpers = random_helpers(tree)
    servers: list[ProviderServer] = []
    manual: list[ManualStep] = []
    for source, call, provider in _server_calls(tree, classes, index):
        if (
            provider is None
            and len(classes) == 1
            and not _imported_from_outside(tree, source, call)
        ):
            provider = next(iter(classes.values()))  # built where the scan cannot follow
        site = _server_site(source, call)
        if isinstance(site, ManualStep) or provider is None:
            manual.append(site if isinstance(site, ManualStep) else _untraced(source, call))
            continue
        gate = find_provider_gate(provider)
        mints, mint_steps, decisions = find_provider_mints(provider, gate, helpers)
        manual += [*mint_steps, *([gate] if isinstance(gate, ManualStep) else [])]
        servers.append(
            ProviderServer(
                provider,
                site,
                tuple(find_apps(tree, site)),
                find_sdk(tree, site),
                tuple(mints),
                gate if isinstance(gate, BearerGate) else None,
                find_store(tree, provider, site),
                tuple(decisions),
            )
        )
    return servers, manual


def _imported_from_outside(tree: SourceTree, source: SourceFile, call: cst.Call) -> bool:
    """Whether the server's provider is named by an import of a module the tree does not
    hold (``from authkit import GitHubProvider``): then the tree's one provider class is
    not it. Relative imports lose their dots in ``imported_names``: a module counts as the
    tree's when a tree module ends with it."""
    value = keyword_value(call, "auth_server_provider") or keyword_value(call, "auth")
    target = value.func if isinstance(value, cst.Call) else value
    imports = imported_names(source.module)
    name = dotted(target) if target is not None else None
    if name is None or name.partition(".")[0] not in imports:
        return False
    parts = (qualified(target, imports) or name).split(".")  # type: ignore[arg-type]
    prefixes = {".".join(parts[:n]) for n in range(1, len(parts))}
    modules = {_module_name(rel) for rel in tree.files}
    return not any(m == p or m.endswith("." + p) for m in modules for p in prefixes)


def _untraced(source: SourceFile, call: cst.Call) -> ManualStep:
    return ManualStep(
        source.where(call),
        "the class of the provider given as `auth_server_provider=`, built in this tree",
        "build the provider where the scan can see its class (inline, a variable or a "
        "factory function), or plan with --exclude for the servers this kit should not touch",
        GUIDE,
        blocks_apply=True,
    )
