"""Find where the legacy code removes tokens from its store (rotation, /revoke, clean-up).

From `apply` on, a JWT's revocation must reach the ``jti`` denylist: the final gate reads
nothing else, so a delete the denylist never heard of would bring the token back at
finalize. These are the places that must call ``oauth_migration.revoke(<token>)``:

- ``tokens.pop(key)`` and ``del sessions[key]`` on a store whose name says it holds tokens,
  or that the gate is known to read (``TokenStore.names``: an SDK provider's ``self.by_access``);
- SQL (read by :mod:`migrate.scan.sql`): ``DELETE FROM`` or a soft-delete ``UPDATE ... SET
  revoked = 1`` on a token table, any placeholder style, extra conditions allowed;
- client and ORM calls: ``redis.delete(key)``, ``collection.delete_one({...})``,
  ``update_one({...}, {"$set": {"revoked": True}})``, ``session.delete(obj)``,
  ``Model.query.filter_by(token=...).delete()``.

Each is a :class:`Delete` whose ``key`` is the expression holding the access token (the
token itself where the store is keyed by its digest, ``token_hash(token)``), or
``None`` when it cannot be named (keyed by another column, parameters built elsewhere, a
statement held in a variable): the planners make that a blocking manual step, because a
delete left without ``revoke()`` silently stops revoking once the phase is final.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import libcst as cst

from migrate.scan.source import SourceFile, SourceTree
from migrate.scan.sql import Param, Removal, bound, read_removal, select_key, sql_text
from migrate.scan.syntax import (
    dotted,
    enclosing,
    enclosing_function,
    enclosing_statement,
    parameters,
    string_value,
    walk,
)

_STORE = re.compile(r"token|session", re.IGNORECASE)
_REFRESH_ONLY = re.compile(r"refresh", re.IGNORECASE)
_TOKEN_KEYS = ("token", "access_token")
_CLIENT_DELETES = frozenset({"delete", "delete_one", "delete_many", "find_one_and_delete"})
_CLIENT_UPDATES = frozenset({"update_one", "update_many", "find_one_and_update"})
_DEAD_FIELD = re.compile(r"^(is_)?(revoked|deleted|disabled)(_at)?$|^expires?(_at)?$", re.I)
_MARKERS = (".pop(", "del ", "DELETE", "delete", "UPDATE", "update", "revoked", "expires")

Found = tuple[cst.BaseExpression | None, str]


@dataclass
class Delete:
    source: SourceFile
    statement: cst.CSTNode
    key: cst.BaseExpression | None  # None: the access token it deletes cannot be named
    detail: str

    @property
    def where(self) -> str:
        return self.source.where(self.statement)


@dataclass(frozen=True)
class TokenStore:
    """What the mint's record write says about the store: the field holding the access
    token and the record's class, when known."""

    column: str | None = None
    record_class: str | None = None
    # Stores the gate reads access tokens from, whatever their names (``self.by_access``).
    names: frozenset[str] = frozenset()


def _holds_tokens(
    source: SourceFile, node: cst.CSTNode, owner: str, store: TokenStore | None = None
) -> bool:
    """``tokens`` / ``_sessions``, ``self.<anything>`` inside a token or session store, or
    a store the gate is known to read (``store.names``)."""
    if store is not None and owner in store.names:
        return True
    if _STORE.search(owner.split(".")[-1]):
        return True
    if owner.startswith("self."):
        cls = enclosing(source, node, (cst.ClassDef,))
        return isinstance(cls, cst.ClassDef) and _STORE.search(cls.name.value) is not None
    return False


def _pop_key(source: SourceFile, node: cst.Call, store: TokenStore) -> cst.BaseExpression | None:
    func = node.func
    if not isinstance(func, cst.Attribute) or func.attr.value != "pop" or not node.args:
        return None
    owner = dotted(func.value) or ""
    return node.args[0].value if _holds_tokens(source, node, owner, store) else None


def _key_column(keys: list[str], store: TokenStore) -> str | None:
    """The key that names the access token: the record's token field, else ``token``."""
    if store.column in keys:
        return store.column
    # The record's field may be named otherwise than the column (``token`` / ``access_token``).
    named = [k for k in keys if k.lower() in _TOKEN_KEYS]
    if named:
        return named[0]
    return keys[0] if len(keys) == 1 and store.column is None else None


# -- SQL ------------------------------------------------------------------------------


def _row_read_before(
    source: SourceFile, node: cst.Call, removal: Removal, store: TokenStore
) -> cst.BaseExpression | None:
    """``row = one("SELECT * FROM t WHERE k = ?", v)`` earlier in the function, then
    ``DELETE FROM t WHERE k = ?`` with the same ``v``: the token is ``row["<token field>"]``."""
    function = enclosing_function(source, node)
    if function is None or store.column is None or len(removal.keys) != 1:
        return None
    ((column, param),) = removal.keys.items()
    value = bound(node, param)
    code = source.code(value) if value is not None else None
    for statement in walk(function.body):
        if source.order(statement) >= source.order(node):
            break
        if not isinstance(statement, cst.Assign) or not isinstance(statement.value, cst.Call):
            continue
        target, call = statement.targets[0].target, statement.value
        selected = _select_key(call, removal.table, column)
        if isinstance(target, cst.Name) and selected is not None:
            given = bound(call, selected)
            if given is not None and source.code(given) == code:
                index = cst.Index(cst.SimpleString(f'"{store.column}"'))
                return cst.Subscript(target, [cst.SubscriptElement(index)])
    return None


def _select_key(call: cst.Call, table: str, column: str) -> Param | None:
    """0 when ``call`` runs ``SELECT ... FROM table WHERE column = ?`` (first parameter)."""
    return 0 if select_key(sql_text(call) or "") == (table, column) else None


def _sql_removal(
    source: SourceFile, node: cst.Call, removal: Removal, store: TokenStore
) -> Found | None:
    what = f"{'DELETE FROM' if removal.kind == 'delete' else 'soft delete of'} {removal.table}"
    if removal.unread:
        return None, f"{what} in SQL this kit cannot read"
    column = _key_column(list(removal.keys), store)
    if column is None:
        if _REFRESH_ONLY.search(removal.table) or (removal.purges_expired and not removal.keys):
            return None  # no access token lives there, or only expired ones are removed
        row = _row_read_before(source, node, removal, store)
        if row is not None:
            return row, f"{what} (the access token read from the row selected by the same key)"
        keyed = ", ".join(removal.keys) or "no parameter"
        wanted = store.column or "the access token"
        return None, f"{what} keyed by {keyed}, not by the access token ({wanted})"
    key = bound(node, removal.keys[column])
    if key is None:
        return None, f"{what}: the value bound to {column} cannot be read here"
    return key, what


def _token_table(removal: Removal | None) -> bool:
    return removal is not None and _STORE.search(removal.table) is not None


# -- clients and ORMs -----------------------------------------------------------------


def _dict_value(expr: cst.BaseExpression, keys: tuple[str, ...]) -> cst.BaseExpression | None:
    if isinstance(expr, cst.Dict):
        for element in expr.elements:
            if isinstance(element, cst.DictElement) and string_value(element.key) in keys:
                return element.value
    return None


def _dict_keys(expr: cst.BaseExpression) -> list[str]:
    if not isinstance(expr, cst.Dict):
        return []
    keys = [string_value(e.key) for e in expr.elements if isinstance(e, cst.DictElement)]
    return [k for k in keys if k]


def _sets_dead_field(expr: cst.BaseExpression) -> bool:
    inner = _dict_value(expr, ("$set",))
    return any(_DEAD_FIELD.match(k) for k in _dict_keys(inner or cst.Dict([])))


def _document_delete(
    source: SourceFile, node: cst.Call, method: str, store: TokenStore
) -> Found | None:
    """``coll.delete_one({"token": t})`` or a ``$set`` of ``revoked`` on a token store."""
    owner = dotted(node.func.value) if isinstance(node.func, cst.Attribute) else None
    if not node.args or not isinstance(node.args[0].value, cst.Dict):
        return None
    query = node.args[0].value
    if method in _CLIENT_UPDATES and (
        len(node.args) < 2 or not _sets_dead_field(node.args[1].value)
    ):
        return None
    column = _key_column(_dict_keys(query), store)
    if not _holds_tokens(source, node, owner or "") and column is None:
        return None
    if column is None:
        keys = ", ".join(_dict_keys(query)) or "nothing"
        return None, f"{method} keyed by {keys}, not by the access token"
    return _dict_value(query, (column,)), f"{method} on {owner}"


def _key_inside(expr: cst.BaseExpression) -> cst.BaseExpression | None:
    """The token in a store key: ``token``, ``f"at:{token}"``, ``"at:" + token``."""
    if isinstance(expr, cst.Name | cst.Attribute):
        return expr
    if isinstance(expr, cst.FormattedString):
        inner = [p.expression for p in expr.parts if isinstance(p, cst.FormattedStringExpression)]
        return inner[0] if len(inner) == 1 else None
    if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Add):
        sides = [s for s in (expr.left, expr.right) if string_value(s) is None]
        return sides[0] if len(sides) == 1 else None
    return None


def _mentions_tokens(expr: cst.BaseExpression) -> bool:
    texts = [string_value(n) or "" for n in walk(expr) if isinstance(n, cst.SimpleString)]
    texts += [n.value for n in walk(expr) if isinstance(n, cst.FormattedStringText)]
    return any(_STORE.search(t) for t in texts)


def _key_delete(source: SourceFile, node: cst.Call, owner: str) -> Found | None:
    """``redis.delete(key)`` / ``cache.delete(f"token:{t}")`` on a token store."""
    args = [a.value for a in node.args]
    spelled = [
        _assigned_value(source, node, a.value) if isinstance(a, cst.Name) else a for a in args
    ]
    in_store = _holds_tokens(source, node, owner) or _holds_tokens(source, node, "self.")
    if not args or not (in_store or any(_mentions_tokens(a) for a in spelled if a is not None)):
        return None
    key = _key_inside(args[0]) if len(args) == 1 else None
    if key is None:
        return None, f"{owner}.delete of keys that do not name one access token"
    return key, f"{owner}.delete"


def _query_filter(chain: cst.BaseExpression) -> tuple[str, dict[str, cst.BaseExpression]] | None:
    """``Model.query.filter_by(col=v)`` / ``session.query(Model).filter(Model.col == v)``:
    the model's name and the columns compared to a value."""
    model, filters = "", dict[str, cst.BaseExpression]()
    for node in walk(chain):
        if not isinstance(node, cst.Call):
            continue
        name = dotted(node.func) or ""
        method = name.split(".")[-1]
        if method == "filter_by":
            filters |= {a.keyword.value: a.value for a in node.args if a.keyword}
        elif method in ("filter", "where"):
            filters |= _compared(node)
        elif method == "query" and node.args:
            model = dotted(node.args[0].value) or model
        if name.endswith(".query.filter_by") or name.endswith(".query.filter"):
            model = name.split(".")[0]
    return (model, filters) if model or filters else None


def _compared(node: cst.Call) -> dict[str, cst.BaseExpression]:
    found: dict[str, cst.BaseExpression] = {}
    for arg in node.args:
        value = arg.value
        if isinstance(value, cst.Comparison) and len(value.comparisons) == 1:
            target = value.comparisons[0]
            if isinstance(target.operator, cst.Equal) and isinstance(value.left, cst.Attribute):
                found[value.left.attr.value] = target.comparator
    return found


def _is_token_model(name: str, store: TokenStore) -> bool:
    short = name.split(".")[-1]
    return bool(short) and (short == store.record_class or _STORE.search(short) is not None)


def _query_delete(node: cst.Call, store: TokenStore) -> Found | None:
    """``<query on a token model>.delete()`` (SQLAlchemy, Flask-SQLAlchemy, peewee)."""
    if node.args or not isinstance(node.func, cst.Attribute):
        return None
    found = _query_filter(node.func.value)
    if found is None or not _is_token_model(found[0], store):
        return None
    model, filters = found
    column = _key_column(list(filters), store)
    if column is None:
        keyed = ", ".join(filters) or "nothing"
        return None, f"{model} query delete keyed by {keyed}, not by the access token"
    return filters[column], f"{model} query delete"


def _assigned_value(source: SourceFile, node: cst.CSTNode, name: str) -> cst.BaseExpression | None:
    function = enclosing_function(source, node)
    for statement in walk(function.body) if function is not None else ():
        if isinstance(statement, cst.Assign) and len(statement.targets) == 1:
            target = statement.targets[0].target
            if isinstance(target, cst.Name) and target.value == name:
                return statement.value
    return None


def _session_delete(source: SourceFile, node: cst.Call, store: TokenStore) -> Found | None:
    """``session.delete(obj)`` of an object of the token model: revoke ``obj.<token field>``."""
    if len(node.args) != 1 or not isinstance(node.args[0].value, cst.Name):
        return None
    obj = node.args[0].value
    origin = _assigned_value(source, node, obj.value)
    found = _query_filter(origin) if origin is not None else None
    model = found[0] if found else ""
    if not _is_token_model(model, store) and not _STORE.search(obj.value):
        return None
    column = store.column or ("token" if store.record_class is None else None)
    if column is None:
        return None, f"session.delete({obj.value}): the field holding the access token is unknown"
    return cst.Attribute(obj, cst.Name(column)), f"session.delete({obj.value})"


def _client_call(source: SourceFile, node: cst.Call, store: TokenStore) -> Found | None:
    if not isinstance(node.func, cst.Attribute):
        return None
    method, owner = node.func.attr.value, dotted(node.func.value) or ""
    if method in _CLIENT_UPDATES or method in _CLIENT_DELETES - {"delete"}:
        return _document_delete(source, node, method, store)
    if method != "delete":
        return None
    if not node.args:
        return _query_delete(node, store)
    if owner.split(".")[-1] == "session" or owner.endswith("session"):
        return _session_delete(source, node, store)
    if isinstance(node.args[0].value, cst.Dict):
        return _document_delete(source, node, method, store)
    return _key_delete(source, node, owner)


# -- the finder -----------------------------------------------------------------------


def _underlying(
    source: SourceFile, node: cst.CSTNode, key: cst.BaseExpression | None
) -> cst.BaseExpression | None:
    """The token behind a derived store key: ``k = token_key(token)`` stores under a hash,
    but the denylist needs the token itself, here the function's parameter ``token``."""
    digested = _digested(key)
    if digested is not None:
        return digested  # ``token_hash(token.token)``: the store is keyed by a hash
    function = enclosing_function(source, node)
    if not isinstance(key, cst.Name) or function is None:
        return key
    params = set(parameters(function))
    value = _assigned_value(source, node, key.value)
    if isinstance(value, cst.Call) and len(value.args) == 1:
        given = value.args[0].value
        if isinstance(given, cst.Name) and given.value in params:
            return given
    if isinstance(value, cst.FormattedString | cst.BinaryOperation):
        inner = _key_inside(value)
        return inner if inner is not None else key
    return key


_DIGEST = re.compile(r"(^|_)(sha\d+|sha3_\d+|blake2[bs]|md5|hash\w*|\w*digest)$", re.I)


def _digested(key: cst.BaseExpression | None) -> cst.BaseExpression | None:
    """``x`` of a key that hashes it: ``token_hash(x)``, ``sha256(x.encode()).hexdigest()``."""
    if not isinstance(key, cst.Call):
        return None
    name = (dotted(key.func) or "").rpartition(".")[2]
    if not _DIGEST.search(name):
        return None
    if not key.args and isinstance(key.func, cst.Attribute):
        return _digested(key.func.value)  # ``.hexdigest()`` of ``sha256(...)``
    if len(key.args) != 1:
        return None
    value = key.args[0].value
    if (
        isinstance(value, cst.Call)
        and isinstance(value.func, cst.Attribute)
        and value.func.attr.value == "encode"
    ):
        value = value.func.value
    return value if isinstance(value, cst.Name | cst.Attribute) else None


def _found_at(
    source: SourceFile, node: cst.CSTNode, store: TokenStore, seen: set[int]
) -> Found | None:
    if isinstance(node, cst.Call):
        key = _pop_key(source, node, store)
        if key is not None:
            return key, "pop"
        removal = read_removal(sql_text(node) or "")
        if _token_table(removal):
            assert removal is not None
            seen.update(id(n) for n in walk(node.args[0].value))
            return _sql_removal(source, node, removal, store)
        return _client_call(source, node, store)
    if isinstance(node, cst.Del) and isinstance(node.target, cst.Subscript):
        owner = dotted(node.target.value) or ""
        index = node.target.slice[0].slice
        if _holds_tokens(source, node, owner, store) and isinstance(index, cst.Index):
            return index.value, "del"
    if isinstance(node, cst.SimpleString | cst.ConcatenatedString) and id(node) not in seen:
        removal = read_removal(string_value(node) or "")
        if _token_table(removal) and isinstance(source.parent(node), cst.Assign | cst.AnnAssign):
            assert removal is not None
            return None, f"{removal.kind} on {removal.table} written as a value, run elsewhere"
    return None


def find_deletes(tree: SourceTree, store: TokenStore | None = None) -> list[Delete]:
    """Every statement that removes a token, with the expression naming it where known."""
    store = store or TokenStore()
    deletes: list[Delete] = []
    for source in tree.with_text(*_MARKERS):
        seen: set[int] = set()
        for node in walk(source.module):
            found = _found_at(source, node, store, seen)
            if found is None:
                continue
            statement = enclosing_statement(source, node)
            if statement is not None:
                key = _underlying(source, node, found[0])
                deletes.append(Delete(source, statement, key, found[1]))
    return deletes
