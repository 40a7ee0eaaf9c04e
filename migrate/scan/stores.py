"""Say what kind of token store the legacy server keeps, and what that means for the cutover.

In memory, every opaque token dies at the restart that deploys the migration, so the
hybrid period is as short as the deploy. In a file or a database, opaque tokens live on
until they expire, and the hybrid period lasts at least one access-token lifetime after
the last opaque mint.

The store is read from the token code only: the functions that mint and look tokens up
(or an SDK provider class), and what they reach by name, a few hops deep: module-level
bindings (``TOKENS = {}``, ``db = sqlite3.connect(...)``), functions and classes they call
(``get_db()``, ``TokenRepository(...)``, ``Depends(get_db)``), through imports inside the
tree, and attributes set elsewhere (``app.state.repo = Repo(...)``). A database module the
token code never reaches (a RAG index, a tokenizer's cache) says nothing of the store.
What is reached is classified by the calls it makes, resolved through the imports
(``aiosqlite.connect``, ``redis.asyncio.Redis``, ``Fernet``, ``json.dumps`` written to a
file). A dict or set with no such call is "in memory"; anything else the kit does not
recognise is "unknown, treated as persistent": the safe reading, since ``status`` then
waits a full token lifetime instead of declaring the hybrid period over at the deploy.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import libcst as cst

from migrate.scan.gates import BearerGate
from migrate.scan.source import ParseFailure, SourceFile, SourceTree
from migrate.scan.syntax import dotted, imported_names, qualified, string_value, walk

# Qualified call prefixes -> the store kind they keep tokens in.
PERSISTENT_MARKERS: dict[str, tuple[str, ...]] = {
    "SQLite": ("sqlite3.", "aiosqlite."),
    "pickle file": ("pickle.dump", "pickle.load"),  # no dot: exactly these (not ``loads``)
    "JSON file": ("json.dump", "json.load"),
    "encrypted file": ("cryptography.fernet.", "cryptography.hazmat.primitives.ciphers.aead."),
    "SQLAlchemy database": ("sqlalchemy.", "sqlmodel."),
    "shelve/dbm file": ("shelve.open", "dbm.open"),
    "Redis": ("redis.", "aioredis.", "valkey."),
    "MongoDB": ("pymongo.", "motor."),
    "PostgreSQL/MySQL": ("psycopg.", "psycopg2.", "asyncpg.", "pymysql.", "mysql.connector.",
                         "aiomysql."),
    "cloud table/blob": ("azure.data.tables.", "azure.storage.", "azure.cosmos.", "boto3.",
                         "google.cloud.", "aiobotocore."),
}  # fmt: skip
_CONTAINERS = frozenset(
    {"dict", "set", "list", "defaultdict", "OrderedDict", "WeakValueDictionary"}
)
_SQL = re.compile(r"^\s*(select|insert|update|delete)\b.*\b(from|into|set)\b", re.I | re.S)
UNKNOWN_STORE = (
    "unknown, treated as persistent (no store the kit recognises in the code that mints "
    "and reads the tokens; `migrate status` waits a full token lifetime)"
)
_SERIALISERS = frozenset({"json.dumps", "json.loads", "pickle.dumps", "pickle.loads"})
_FILE_IO = frozenset({"write_text", "write_bytes", "read_text", "read_bytes"})
UNKNOWN_PERIOD = (
    "The kit could not tell where the tokens are kept, so it reads the store as persistent "
    "(the safe reading). "
)
SQL_KIND = "SQL database"  # queries whose driver the reached code does not name
# gate -> its class -> where the class is built -> the local passed -> its factory -> the
# store class the factory returns
_HOPS = 6


@dataclass(frozen=True)
class StoreDescription:
    where: str
    text: str
    hybrid_period: str
    persistent: bool


@dataclass(frozen=True)
class StoreReading:
    """What the token code's store is: ``kinds`` found (persistent), else ``in_memory``
    when it keeps tokens in a dict or set, else unknown (treated as persistent)."""

    kinds: tuple[str, ...]
    in_memory: bool

    @property
    def persistent(self) -> bool:
        return bool(self.kinds) or not self.in_memory

    @property
    def text(self) -> str:
        if self.kinds:
            return "persistent: " + ", ".join(self.kinds)
        if self.in_memory:
            return "in memory (a dict or set in the code that mints and reads the tokens)"
        return UNKNOWN_STORE


Reached = tuple[SourceFile, cst.CSTNode]


def read_store(
    tree: SourceTree, seeds: Iterable[Reached], lookups: Iterable[Reached] | None = None
) -> StoreReading:
    """Classify the store from ``seeds`` (token code) and what they reach by name. Only
    what ``lookups`` (the statements that read a token's record; default: the seeds)
    reach can show the store in memory: a dict of authorization codes beside a database
    of tokens is no token store."""
    seeds = list(seeds)
    readers = seeds if lookups is None else list(lookups)
    kinds: list[str] = []
    for source, node in reach(tree, [*seeds, *readers]):
        kinds += [k for k in _kinds(node, _imports(tree, source)) if k not in kinds]
    if len(kinds) > 1 and SQL_KIND in kinds:
        kinds.remove(SQL_KIND)  # the driver named says more than its queries
    in_memory = any(_holds_container(node) for _, node in reach(tree, readers))
    return StoreReading(tuple(kinds), in_memory)


def describe_store(
    tree: SourceTree, gates: list[BearerGate], seeds: Iterable[Reached] = ()
) -> StoreDescription:
    """The store of the hand-written recipe: read from its gates' and mints' functions;
    in memory only if what the gates' lookups read is a dict or set."""
    found = [*seeds, *((g.source, g.function) for g in gates)]
    lookups = [(g.source, g.lookup.statement) for g in gates if g.lookup is not None]
    reading = read_store(tree, found, lookups)
    where = gates[0].where if gates and gates[0].lookup is not None else "(whole tree)"
    persistent = reading.persistent
    period = hybrid_period(persistent)
    if persistent and not reading.kinds:
        period = UNKNOWN_PERIOD + period
    return StoreDescription(where, reading.text, period, persistent)


# -- reaching the token code --------------------------------------------------------------


def reach(tree: SourceTree, seeds: Iterable[Reached]) -> list[Reached]:
    """``seeds`` and the definitions they name, breadth first, ``_HOPS`` deep."""
    found: dict[int, Reached] = {}
    frontier = list(seeds)
    for _ in range(_HOPS + 1):
        fresh = [(s, n) for s, n in frontier if id(n) not in found]
        found |= {id(n): (s, n) for s, n in fresh}
        frontier = [d for s, n in fresh for d in _named(tree, s, n)]
    return list(found.values())


def _named(tree: SourceTree, source: SourceFile, node: cst.CSTNode) -> Iterator[Reached]:
    """The definitions ``node`` reads: bindings of its names, the class of ``self``, and
    assignments to the attributes it reads (``x.repo`` where ``app.state.repo = ...``)."""
    names, attributes = _reads(node)
    scope = _enclosing_function(source, node)
    for name in names - {"self", "cls"}:
        local = list(_local_bindings(source, scope, name)) if scope is not None else []
        yield from local or _definitions(tree, source, name)
    if names & {"self", "cls"}:
        owner = _enclosing_class(source, node)
        if owner is not None:
            yield source, owner
            yield from _constructions(tree, owner.name.value)
    yield from _attribute_sets(tree, attributes)


def _enclosing_function(source: SourceFile, node: cst.CSTNode) -> cst.FunctionDef | None:
    current = source.parent(node)
    while current is not None and not isinstance(current, cst.FunctionDef):
        current = source.parent(current)
    return current if isinstance(current, cst.FunctionDef) else None


def _local_bindings(source: SourceFile, function: cst.FunctionDef, name: str) -> Iterator[Reached]:
    """``name = ...`` statements inside ``function`` (``store = get_store()``)."""
    for child in walk(function.body):
        if isinstance(child, cst.SimpleStatementLine) and name in _bound(child):
            yield source, child


def _constructions(tree: SourceTree, name: str) -> Iterator[Reached]:
    """The calls that build class ``name`` (``Gate(app, store=store)``, or
    ``Middleware(Gate, store=store)``): what ``self.store = store`` holds is passed there."""
    for source in tree.with_text(name):
        if not _parsable(source):
            continue
        for node in walk(source.module):
            if isinstance(node, cst.Call) and (
                (dotted(node.func) or "").split(".")[-1] == name
                or any(dotted(a.value) == name for a in node.args)
            ):
                yield source, node


def _reads(node: cst.CSTNode) -> tuple[set[str], set[str]]:
    names: set[str] = set()
    attributes: set[str] = set()
    for child in _code_nodes(node):
        if isinstance(child, cst.Name):
            names.add(child.value)
        elif isinstance(child, cst.Attribute) and not _on_self(child):
            attributes.add(child.attr.value)
        elif (key := _keyed_slot(child)) is not None:
            attributes.add(key)
    return names, attributes


def _keyed_slot(node: cst.CSTNode) -> str | None:
    """``app.extensions["oauth_db"]``: a slot keyed by a literal on an attribute chain (a
    registry the app keeps), named ``["oauth_db"]``; a record's ``row["user"]`` is not one."""
    if not isinstance(node, cst.Subscript) or not isinstance(node.value, cst.Attribute):
        return None
    if _on_self(node.value) or len(node.slice) != 1:
        return None
    index = node.slice[0].slice
    key = string_value(index.value) if isinstance(index, cst.Index) else None
    return f'["{key}"]' if key else None


def _code_nodes(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """The nodes of ``node`` without decorators (``@app.get`` would reach every route)."""
    if isinstance(node, cst.FunctionDef | cst.ClassDef):
        for part in (node.body, *_signature(node)):
            yield from walk(part)
    else:
        yield from walk(node)


def _signature(node: cst.FunctionDef | cst.ClassDef) -> tuple[cst.CSTNode, ...]:
    # Parameters hold ``Depends(get_db)``; bases hold ``Base`` of an ORM model.
    if isinstance(node, cst.FunctionDef):
        return (node.params,)
    return tuple(node.bases)


def _on_self(node: cst.Attribute) -> bool:
    return isinstance(node.value, cst.Name) and node.value.value in ("self", "cls")


def _enclosing_class(source: SourceFile, node: cst.CSTNode) -> cst.ClassDef | None:
    current = source.parent(node)
    while current is not None and not isinstance(current, cst.ClassDef):
        current = source.parent(current)
    return current if isinstance(current, cst.ClassDef) else None


def _definitions(tree: SourceTree, source: SourceFile, name: str) -> Iterator[Reached]:
    """Top-level ``def``/``class``/assignment of ``name`` here, or in the tree module it
    is imported from."""
    local = list(_top_level(source, name))
    if local:
        yield from local
        return
    target = _imports(tree, source).get(name)
    if target is None or "." not in target:
        return
    module, _, member = target.rpartition(".")
    for other in _tree_modules(tree, module):
        yield from _top_level(other, member)


def _top_level(source: SourceFile, name: str) -> Iterator[Reached]:
    for statement in source.module.body:
        if isinstance(statement, cst.FunctionDef | cst.ClassDef):
            if statement.name.value == name:
                yield source, statement
        elif isinstance(statement, cst.SimpleStatementLine) and name in _bound(statement):
            yield source, statement


def _bound(statement: cst.SimpleStatementLine) -> set[str]:
    names: set[str] = set()
    for small in statement.body:
        if isinstance(small, cst.Assign):
            names |= {n for t in small.targets if (n := dotted(t.target)) is not None}
        elif isinstance(small, cst.AnnAssign) and (n := dotted(small.target)) is not None:
            names.add(n)
    return names


def _tree_modules(tree: SourceTree, module: str) -> list[SourceFile]:
    """Tree files a dotted module names: ``pkg.store`` is ``pkg/store.py`` or, when the
    tree's root is the package itself, ``store.py``; relative imports lose their dots."""
    parts = module.strip(".").split(".")
    by_stem = _index(tree).modules
    for start in range(len(parts)):
        found = [f for f in by_stem.get("/".join(parts[start:]), []) if _parsable(f)]
        if found:
            return found
    return []


@dataclass
class _TreeIndex:
    """Built once per tree: a module path suffix -> its files; an attribute name -> the
    files that assign it (``x.repo = ``), so following data never rescans every file."""

    modules: dict[str, list[SourceFile]]
    assigned: dict[str, list[SourceFile]]
    imports: dict[str, dict[str, str]] = field(default_factory=dict)  # file -> its imports


def _imports(tree: SourceTree, source: SourceFile) -> dict[str, str]:
    known = _index(tree).imports
    if source.rel not in known:
        known[source.rel] = imported_names(source.module)
    return known[source.rel]


_INDEXES: weakref.WeakKeyDictionary[SourceTree, _TreeIndex] = weakref.WeakKeyDictionary()
_ASSIGNED = re.compile(r"\.(\w+)\s*=[^=]")
_SLOT_ASSIGNED = re.compile(r"""\[\s*["'](\w+)["']\s*\]\s*=[^=]""")


def _index(tree: SourceTree) -> _TreeIndex:
    index = _INDEXES.get(tree)
    if index is None:
        index = _INDEXES[tree] = _TreeIndex({}, {})
        for rel, source in tree.files.items():
            parts = rel.removesuffix(".py").removesuffix("/__init__").split("/")
            for start in range(len(parts)):
                index.modules.setdefault("/".join(parts[start:]), []).append(source)
            names = set(_ASSIGNED.findall(source.text))
            names |= {f'["{key}"]' for key in _SLOT_ASSIGNED.findall(source.text)}
            for name in names:
                index.assigned.setdefault(name, []).append(source)
    return index


def _parsable(source: SourceFile) -> bool:
    # A file the scan refuses to parse (too large, a syntax error) is reported elsewhere.
    try:
        return source.refusal() is None
    except ParseFailure:
        return False


def _attribute_sets(tree: SourceTree, attributes: set[str]) -> Iterator[Reached]:
    """``x.y.repo = value`` statements (not on ``self``) for attributes the code reads."""
    assigned = _index(tree).assigned
    files = {f.rel: f for a in attributes for f in assigned.get(a, [])}
    for source in files.values():
        if not _parsable(source):
            continue
        for node in walk(source.module):
            if isinstance(node, cst.SimpleStatementLine) and _sets_attribute(node, attributes):
                yield source, node


def _sets_attribute(statement: cst.SimpleStatementLine, attributes: set[str]) -> bool:
    for small in statement.body:
        if isinstance(small, cst.Assign):
            for target in small.targets:
                node = target.target
                if (
                    isinstance(node, cst.Attribute)
                    and not _on_self(node)
                    and node.attr.value in attributes
                    or _keyed_slot(node) in attributes
                ):
                    return True
    return False


# -- classifying what was reached ---------------------------------------------------------


def _kinds(node: cst.CSTNode, imports: dict[str, str]) -> Iterator[str]:
    nodes = list(_code_nodes(node))
    calls = [c for c in nodes if isinstance(c, cst.Call)]
    # Every name or attribute chain whose head is an import: calls, annotations, constants.
    names = {
        q
        for c in nodes
        if isinstance(c, cst.Attribute | cst.Name)
        and (dotted(c) or "").split(".")[0] in imports
        and (q := qualified(c, imports)) is not None
    }
    for kind, markers in PERSISTENT_MARKERS.items():
        if any(_marked(n, markers) for n in names):
            yield kind
    if _dumps_to_file(names, calls):
        yield "JSON file"
    if any(_SQL.match(string_value(s) or "") for s in _strings(node)):
        yield SQL_KIND


def _marked(name: str, markers: tuple[str, ...]) -> bool:
    """``sqlite3.`` marks a package (any member); ``json.dump`` marks exactly that call."""
    return any(name.startswith(m) if m.endswith(".") else name == m for m in markers)


def _dumps_to_file(names: set[str], calls: list[cst.Call]) -> bool:
    """``json.dumps`` (or ``loads``, or pickle's) on text a file gives or takes."""
    serialised = bool(names & _SERIALISERS)
    files = any(
        isinstance(c.func, cst.Attribute)
        and c.func.attr.value in _FILE_IO
        or dotted(c.func) == "open"
        for c in calls
    )
    return serialised and files


def _strings(node: cst.CSTNode) -> Iterator[cst.BaseExpression]:
    for child in _code_nodes(node):
        if isinstance(child, cst.SimpleString | cst.ConcatenatedString):
            yield child


def _holds_container(node: cst.CSTNode) -> bool:
    """A binding that outlives a request set to a dict, set or list: a module-level
    ``TOKENS = {}``, a class's ``_tokens: dict = {}``, or ``self._tokens = {}`` in one of
    its methods. A function's local dict (a response body) is no store."""
    if isinstance(node, cst.SimpleStatementLine):
        return any(_is_container(v) for v, _ in _assigned(node))
    if not isinstance(node, cst.ClassDef):
        return False
    for statement in node.body.body:
        if isinstance(statement, cst.SimpleStatementLine) and any(
            _is_container(v) for v, _ in _assigned(statement)
        ):
            return True
    return any(
        _is_container(value) and all(isinstance(t, cst.Attribute) and _on_self(t) for t in targets)
        for child in walk(node.body)
        if isinstance(child, cst.SimpleStatementLine)
        for value, targets in _assigned(child)
    )


def _assigned(
    statement: cst.SimpleStatementLine,
) -> Iterator[tuple[cst.BaseExpression | None, list[cst.BaseExpression]]]:
    for small in statement.body:
        if isinstance(small, cst.Assign):
            yield small.value, [t.target for t in small.targets]
        elif isinstance(small, cst.AnnAssign):
            yield small.value, [small.target]


def _is_container(value: cst.BaseExpression | None) -> bool:
    if isinstance(value, cst.Dict | cst.Set | cst.List | cst.DictComp):
        return True
    return isinstance(value, cst.Call) and (dotted(value.func) or "").split(".")[-1] in _CONTAINERS


def hybrid_period(persistent: bool) -> str:
    """What the hybrid period means for this store, on one host and on several."""
    if not persistent:
        return (
            "Hybrid period: the token store is in memory, so every opaque token dies at the "
            "restart that deploys this change; clients re-authorize and get JWTs. The hybrid "
            "period is as short as the deploy. On several replicas, each one's memory holds "
            "only the opaque tokens it issued (as before: sticky sessions keep a client on "
            "its replica); every JWT is accepted by every replica that shares the key "
            "(MIGRATION.md, section 8)."
        )
    return (
        "Hybrid period: the token store is persistent, so opaque tokens issued before the "
        "apply stay valid until they expire (one access-token lifetime), and refreshing "
        "them yields JWTs. `migrate status` tells when no opaque token can still be in use; "
        "with several replicas, `--prometheus` waits until every one reports the hybrid "
        "reader (MIGRATION.md, section 8)."
    )
