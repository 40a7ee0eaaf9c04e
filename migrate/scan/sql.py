"""Read the SQL statements that remove a token: DELETE, and UPDATEs that mark one dead.

One small tokenizer (strings, quoted names, placeholders, words, symbols) and one reading
of the two statement shapes that end a token's life in a table:

- ``DELETE FROM <table> [WHERE ...]``;
- ``UPDATE <table> SET <col> = ... WHERE ...`` where a column set says the row is dead
  (``revoked``, ``revoked_at``, ``expires_at``, ``deleted``, ``active`` ...): a soft delete.

For each, the columns its WHERE compares to a parameter (``col = ?``, ``:name``, ``%s``,
``%(name)s``, ``$1``), whatever other conditions stand beside them, so the caller can find
the Python value bound to the token column. Placeholders are numbered in statement order
(SET ones included), as the DB-API binds a sequence. ``INSERT INTO t (cols) VALUES
(...)`` is read the same way, for the record a mint writes. :func:`bound` then finds the
Python value a call binds to one placeholder. Nothing here runs or rewrites SQL: a
statement it cannot read is ``None``, and the caller decides what that means.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import libcst as cst

from migrate.scan.syntax import dotted, string_value

_TOKEN = re.compile(
    r"""
    (?P<space>\s+|--[^\n]*|/\*.*?\*/)
  | (?P<string>'(?:[^']|'')*')
  | (?P<quoted>"[^"]*"|`[^`]*`|\[[^\]]*\])
  | (?P<pyformat>%\((?P<pyname>\w+)\)s)
  | (?P<format>%s)
  | (?P<qmark>\?(?P<qnum>\d*))
  | (?P<named>:(?P<name>[A-Za-z_]\w*))
  | (?P<numeric>\$(?P<num>\d+))
  | (?P<word>[A-Za-z_][\w.]*)
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<symbol><>|!=|<=|>=|==|::|[=<>(),;*+\-/|.:%])
    """,
    re.VERBOSE | re.DOTALL,
)
# Columns whose new value says the row no longer grants access, and the values that say
# so: a revocation flag or stamp set (to a literal or a parameter, as a timestamp is), an
# "active" flag cleared, an expiry moved to now or the epoch. ``SET expires_at = ?`` is
# not one: sliding sessions extend tokens that way.
_REVOKED = re.compile(r"^(is_)?(revoked|deleted|disabled|invalidated|expired)(_at|_on)?$", re.I)
_ACTIVE = re.compile(r"^(is_)?(active|valid|enabled)$", re.IGNORECASE)
_EXPIRY = re.compile(r"^(expires?(_at|_on)?|expiry|exp|expiration)$", re.IGNORECASE)
_NOW = frozenset({"0", "current_timestamp", "now", "datetime", "strftime", "unixepoch"})
_CLEARED = frozenset({"0", "false", "null"})


def _kills(column: str, value: str | Placeholder) -> bool:
    """Whether ``SET column = value`` ends the token's life."""
    word = value.lower() if isinstance(value, str) else None
    if _REVOKED.match(column):
        return word not in _CLEARED
    if _ACTIVE.match(column):
        return word in _CLEARED
    return bool(_EXPIRY.match(column)) and word in _NOW


Param = int | str  # a positional index (0-based) or a name
_DELETE_HEAD = re.compile(r"^\s*delete\s+from\s+[\"`\[]?(\w+)", re.IGNORECASE)


@dataclass
class Placeholder:
    param: Param


@dataclass
class Removal:
    """A statement that ends tokens' lives in ``table``: which parameter each key column takes."""

    kind: str  # "delete" or "soft-delete"
    table: str
    keys: dict[str, Param] = field(default_factory=dict)  # column -> parameter in WHERE
    unread: bool = False  # a DELETE on ``table`` whose rest this tokenizer cannot read
    # ``WHERE expires_at < ?``: a purge of tokens already dead, nothing left to revoke.
    purges_expired: bool = False


def _tokens(sql: str) -> list[str | Placeholder] | None:
    """Words (lower-cased keywords kept as written), symbols and placeholders; None when
    the text is not SQL this tokenizer reads."""
    out: list[str | Placeholder] = []
    position = 0
    index = 0
    for found in _TOKEN.finditer(sql):
        if found.start() != position:
            return None
        position = found.end()
        kind = found.lastgroup
        if kind == "space":
            continue
        if kind in ("format", "qmark", "numeric"):
            number = found.group("num") or found.group("qnum")
            out.append(Placeholder(int(number) - 1 if number else index))
            index += 1
        elif kind in ("pyformat", "named"):
            out.append(Placeholder(found.group("pyname") or found.group("name")))
        elif kind == "quoted":
            out.append(found.group()[1:-1])
        else:
            out.append(found.group())
    return out if position == len(sql) else None


def _word(item: str | Placeholder | None, *words: str) -> bool:
    return isinstance(item, str) and item.lower() in words


def _name(item: str | Placeholder | None) -> str | None:
    if isinstance(item, str) and re.match(r"^[A-Za-z_][\w.]*$", item):
        return item.split(".")[-1]
    return None


def read_removal(sql: str) -> Removal | None:
    """The DELETE or soft-delete UPDATE ``sql`` is, or None for any other statement."""
    items = _tokens(sql.strip().rstrip(";"))
    if items is None:
        found = _DELETE_HEAD.match(sql)
        return Removal("delete", found.group(1), unread=True) if found else None
    if not items:
        return None
    if _word(items[0], "delete") and _word(items[1] if len(items) > 1 else None, "from"):
        table = _name(items[2]) if len(items) > 2 else None
        return _where(Removal("delete", table), items[3:]) if table else None
    if _word(items[0], "update") and len(items) > 2:
        return _update(items)
    return None


def _update(items: list[str | Placeholder]) -> Removal | None:
    table = _name(items[1])
    if table is None or not _word(items[2], "set"):
        return None
    rest = items[3:]
    end = next((i for i, item in enumerate(rest) if _word(item, "where")), len(rest))
    sets = [(_name(rest[i - 1]), rest[i + 1]) for i in range(1, end - 1) if rest[i] == "="]
    if not any(column and _kills(column, value) for column, value in sets):
        return None
    return _where(Removal("soft-delete", table), rest[end:])


def _where(removal: Removal, items: list[str | Placeholder]) -> Removal:
    """Fill ``removal.keys`` from ``WHERE a = ? AND b = :b ...`` (either side of ``=``)."""
    # An alias (``tokens t``, ``tokens AS t``) may stand before WHERE.
    start = next((i for i, item in enumerate(items[:3]) if _word(item, "where")), None)
    if start is None:
        return removal
    body = items[start + 1 :]
    for index, item in enumerate(body):
        if item != "=" or index == 0 or index + 1 >= len(body):
            continue
        left, right = body[index - 1], body[index + 1]
        column, value = (left, right) if isinstance(right, Placeholder) else (right, left)
        name = _name(column)
        if name is not None and isinstance(value, Placeholder):
            removal.keys.setdefault(name, value.param)
    removal.purges_expired = any(
        _EXPIRY.match(_name(body[i - 1]) or "") and body[i] in ("<", "<=")
        for i in range(1, len(body))
    )
    return removal


@dataclass
class Insert:
    table: str
    columns: list[str] | None  # None: the statement names none (the table's order)
    values: list[Placeholder | str]  # a placeholder, or a literal as written


def read_insert(sql: str) -> Insert | None:
    """``INSERT [OR ...] INTO t [(a, b)] VALUES (?, :b, 'x')``, or None."""
    items = _tokens(sql.strip().rstrip(";"))
    if not items or not _word(items[0], "insert"):
        return None
    start = next((i for i, item in enumerate(items) if _word(item, "into")), None)
    if start is None or start + 1 >= len(items):
        return None
    table, rest = _name(items[start + 1]), items[start + 2 :]
    columns = None
    if rest and rest[0] == "(":
        end = rest.index(")") if ")" in rest else len(rest)
        columns = [str(c) for c in rest[1:end] if c != ","]
        rest = rest[end + 1 :]
    if table is None or not rest or not _word(rest[0], "values") or rest[1:2] != ["("]:
        return None
    body = rest[2 : rest.index(")")] if ")" in rest else []
    values = [v for v in body if v != ","]
    return Insert(table, columns, values)


_SELECT = re.compile(r"^\s*select\s+(.+?)\s+from\s+[\"`\[]?(\w+)", re.IGNORECASE | re.DOTALL)
_WHERE_KEY = re.compile(r"\swhere\s+[\"`\[]?(\w+)[\"`\]]?\s*=\s*(\?|%s|\$1|:\w+|%\(\w+\)s)", re.I)


def select_columns(sql: str) -> list[str] | None:
    """The names a ``SELECT a, t.b, c AS d FROM ...`` gives its row (``a, b, d``), in
    order; None for ``SELECT *`` or text that is no SELECT."""
    found = _SELECT.match(sql)
    if not found or found.group(1).strip() == "*":
        return None
    return [c.strip().split()[-1].split(".")[-1] for c in found.group(1).split(",")]


def select_key(sql: str) -> tuple[str, str] | None:
    """``SELECT ... FROM t WHERE col = <first placeholder>``: ``(t, col)``, or None."""
    found = _SELECT.match(sql)
    key = _WHERE_KEY.search(sql) if found else None
    return (found.group(2), key.group(1)) if found and key else None


def sql_text(node: cst.Call) -> str | None:
    """The SQL of ``execute("...")`` or ``execute(text("..."))``."""
    if not node.args:
        return None
    first = node.args[0].value
    if isinstance(first, cst.Call) and len(first.args) == 1:
        first = first.args[0].value
    return string_value(first)


def _scalar(expr: cst.BaseExpression | None) -> bool:
    """A single value, not a parameter sequence: ``form.get("t")``, ``row["t"]``,
    ``record.token``, a name spelled like a token (``presented``, ``token``)."""
    if isinstance(expr, cst.Subscript | cst.Attribute | cst.Call):
        return True
    return isinstance(expr, cst.Name) and not re.search(r"param|arg|values|bind", expr.value)


def bound(node: cst.Call, param: Param) -> cst.BaseExpression | None:
    """The Python value ``execute(sql, params)`` binds to one placeholder: an element of a
    tuple or list, a key of a dict (or ``dict(...)``), a keyword, or (helpers such as
    ``one(sql, a, b)``) a further argument."""
    rest = [a for a in node.args[1:] if a.keyword is None and not a.star]
    params = rest[0].value if rest else None
    if isinstance(param, int):
        if isinstance(params, cst.Tuple | cst.List) and param < len(params.elements):
            return params.elements[param].value
        if len(rest) > 1 or (rest and _scalar(params)):
            return rest[param].value if param < len(rest) else None
        return None
    if isinstance(params, cst.Dict):
        for element in params.elements:
            if isinstance(element, cst.DictElement) and string_value(element.key) == param:
                return element.value
    if isinstance(params, cst.Call) and dotted(params.func) == "dict":
        given = {a.keyword.value: a.value for a in params.args if a.keyword}
        return given.get(param)
    keywords = {a.keyword.value: a.value for a in node.args if a.keyword}
    return keywords.get(param)
