"""The record written beside each JWT mint: its shape, its fields, its token field."""

from __future__ import annotations

from pathlib import Path

from migrate.scan.record_writes import (
    RecordWrite,
    dataclass_fields,
    find_record_writes,
    record_class,
    table_columns,
    token_field,
)
from migrate.scan.source import SourceTree

MINT = "oauth_migration.mint_access_token(subject=owner, client_id=app, scope=grants)"


def _tree(tmp_path: Path, body: str, name: str = "vault.py") -> SourceTree:
    (tmp_path / name).write_text(body, encoding="utf-8")
    return SourceTree(tmp_path)


def _only_write(tmp_path: Path, body: str) -> RecordWrite:
    writes, missing = find_record_writes(_tree(tmp_path, body))
    assert missing == []
    [write] = writes
    return write


def _names(write: RecordWrite) -> list[str | None]:
    return [f.name for f in write.fields]


def test_a_dict_stored_under_the_token_is_a_dict_record(tmp_path: Path) -> None:
    """``vault[t] = {...}`` is a dict record whose keys are its fields."""
    write = _only_write(
        tmp_path,
        f"def issue(owner, app, grants):\n    t = {MINT}\n"
        '    vault[t] = {"owner": owner, "app": app, "grants": grants}\n    return t\n',
    )
    assert (write.shape, _names(write), write.mint_variable) == (
        "dict", ["owner", "app", "grants"], "t",
    )  # fmt: skip
    assert write.mint_arguments == {"subject": "owner", "client_id": "app", "scope": "grants"}


def test_positional_constructor_fields_come_from_its_dataclass(tmp_path: Path) -> None:
    """``Pass(t, owner)`` takes its field names from ``@dataclass class Pass``."""
    write = _only_write(
        tmp_path,
        "from dataclasses import dataclass\n\n\n@dataclass\nclass Pass:\n    value: str\n"
        f"    holder: str\n\n\ndef issue(owner, app, grants):\n    t = {MINT}\n"
        "    passes.append(Pass(t, owner))\n    return t\n",
    )
    assert (write.shape, write.keywords, _names(write)) == ("call", False, ["value", "holder"])
    assert (record_class(write), token_field(write)) == ("Pass", "value")


def test_keyword_constructor_names_its_token_field(tmp_path: Path) -> None:
    """``Ticket(secret=t, ...)``: the token field is the keyword that receives the mint."""
    write = _only_write(
        tmp_path,
        f"def issue(owner, app, grants):\n    t = {MINT}\n"
        "    db.add(Ticket(secret=t, holder=owner))\n    return t\n",
    )
    assert (write.shape, write.keywords, token_field(write)) == ("call", True, "secret")


def test_insert_columns_are_the_fields_of_a_row(tmp_path: Path) -> None:
    """An INSERT with the token among its parameters gives the columns, in order."""
    write = _only_write(
        tmp_path,
        f"def issue(owner, app, grants):\n    t = {MINT}\n"
        '    cur.execute("INSERT OR REPLACE INTO passes (holder, value) VALUES (?, ?)", '
        "(owner, t))\n    return t\n",
    )
    assert (write.shape, _names(write), token_field(write)) == (
        "columns", ["holder", "value"], "value",
    )  # fmt: skip


def test_a_mint_with_no_record_beside_it_is_reported_missing(tmp_path: Path) -> None:
    """A mint whose value is only returned leaves nothing to rebuild: its line is reported."""
    tree = _tree(tmp_path, f"def issue(owner, app, grants):\n    return {MINT}\n")
    assert find_record_writes(tree) == ([], ["vault.py:2"])


def test_a_tree_without_jwt_mints_has_no_record_writes(tmp_path: Path) -> None:
    """Opaque mints (before apply) are not read by this finder: no write, nothing missing."""
    tree = _tree(tmp_path, 'import secrets\nT = {}\nt = secrets.token_hex()\nT[t] = {"a": 1}\n')
    assert find_record_writes(tree) == ([], [])


def test_dataclass_fields_and_table_columns_are_read_in_order(tmp_path: Path) -> None:
    """A class gives its annotated fields (methods aside); CREATE TABLE its columns (keys aside)."""
    tree = _tree(
        tmp_path,
        "class Pass:\n    value: str\n    holder: str = ''\n\n    def alive(self):\n"
        "        return True\n\n\nSCHEMA = 'CREATE TABLE IF NOT EXISTS passes (value TEXT, "
        "holder TEXT, PRIMARY KEY (value))'\n",
    )
    assert dataclass_fields(tree, "Pass") == ["value", "holder"]
    assert dataclass_fields(tree, "Missing") is None
    assert table_columns(tree, "passes") == ["value", "holder"]
    assert table_columns(tree, "absent") is None
