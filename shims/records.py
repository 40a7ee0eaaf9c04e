"""Legacy records built from JWT claims, with the field names and types the legacy code reads.

Legacy gates hand a record to the rest of the server: a dataclass, a dict, a database row.
After the move the record comes from the claims, so every field the server reads must be
there with the type it expects (an ISO-8601 string where the code calls
``datetime.fromisoformat``, a list where it iterates scopes). A field spec says where each
field comes from, in a form a person can read and adjust in the migrated code::

    record_factory({"user_id": "sub", "scopes": "scope:list", "expires_at": "exp:iso8601",
                    "revoked": "=False", "token": "token"}, cls=AccessToken)

- ``"<claim>"`` or ``"<claim>:<type>"``: a claim, converted to ``int``, ``float``, ``str``,
  ``list`` (split on spaces), ``iso8601`` (a UTC string) or ``datetime`` (aware, UTC);
- ``"token"``: the bearer token itself;
- ``"=<literal>"``: a constant (fields the mint never writes get falsy defaults).

Without ``cls`` the record is a :class:`ClaimRecord`: a dict that also reads as attributes.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from .verifier import VerifiedToken

_Getter = Callable[[VerifiedToken], Any]


class ClaimRecord(dict[str, Any]):
    """A dict whose keys also read as attributes, as legacy code may use either."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _to_list(value: Any) -> list[str]:
    return value.split() if isinstance(value, str) else [str(v) for v in value]


def _to_datetime(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value), tz=UTC)


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "int": int,
    "float": float,
    "str": str,
    "list": _to_list,
    "datetime": _to_datetime,
    "iso8601": lambda v: _to_datetime(v).isoformat(),
}


def field_getter(spec: str) -> _Getter:
    """One field spec (see the module docstring) as a function of the verified token."""
    if spec.startswith("="):
        constant = ast.literal_eval(spec[1:])
        return lambda verified: constant
    if spec == "token":
        return lambda verified: verified.token
    claim, _, kind = spec.partition(":")
    if kind and kind not in _CONVERTERS:
        raise ValueError(f"unknown field type {kind!r} in {spec!r}")
    convert = _CONVERTERS.get(kind)
    if convert is None:
        return lambda verified: verified.claims.get(claim)
    return lambda verified: (
        None if claim not in verified.claims else convert(verified.claims[claim])
    )


def record_factory(
    fields: Mapping[str, str], cls: Callable[..., Any] | None = None
) -> Callable[[VerifiedToken], Any]:
    """A ``to_record`` for the gate: ``cls(**fields)``, or a :class:`ClaimRecord`."""
    getters = {name: field_getter(spec) for name, spec in fields.items()}
    build: Callable[..., Any] = ClaimRecord if cls is None else cls

    def to_record(verified: VerifiedToken) -> Any:
        return build(**{name: get(verified) for name, get in getters.items()})

    return to_record


class Row(tuple[Any, ...]):
    """A database row rebuilt from claims: read by position, like a plain sqlite3 row,
    or by column name, like ``sqlite3.Row`` (``row["user_id"]``, ``row.keys()``)."""

    _names: tuple[str, ...]

    def __new__(cls, columns: Mapping[str, Any]) -> Row:
        row = super().__new__(cls, tuple(columns.values()))
        row._names = tuple(columns)
        return row

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            try:
                return tuple.__getitem__(self, self._names.index(key))
            except ValueError:
                raise IndexError(f"no such column: {key}") from None
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)
