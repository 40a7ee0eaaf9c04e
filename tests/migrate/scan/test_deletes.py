"""The SQL reading behind revoke-on-delete (finding 2): one tokenizer, every placeholder style."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrate.codemods.revoke_on_delete import token_store
from migrate.scan.deletes import TokenStore, find_deletes
from migrate.scan.minting import find_mints
from migrate.scan.record_writes import write_near
from migrate.scan.source import SourceTree
from migrate.scan.sql import read_insert, read_removal


@pytest.mark.parametrize(
    ("sql", "param"),
    [
        ("DELETE FROM tokens WHERE token = ?", 0),
        ("delete from tokens where token = :token", "token"),
        ("DELETE FROM tokens WHERE token = %s", 0),
        ("DELETE FROM tokens WHERE token = %(tok)s", "tok"),
        ("DELETE FROM tokens WHERE token = $1", 0),
        ("DELETE FROM tokens WHERE kind = 'access' AND token = ?", 0),
        ("DELETE FROM tokens WHERE client_id = ? AND token = ? AND kind IN ('a', 'b');", 1),
        ('DELETE FROM "tokens" WHERE "token" = ?', 0),
        ("DELETE FROM tokens t WHERE ? = t.token", 0),
        ("UPDATE tokens SET revoked = 1 WHERE token = ?", 0),
        ("UPDATE tokens SET expires_at = 0 WHERE token = :t", "t"),
        ("UPDATE tokens SET revoked_at = ?, note = ? WHERE token = ?", 2),
        ("update tokens\n  set is_active = false  -- soft delete\n  where token = %s", 0),
    ],
)
def test_finding_2_the_token_parameter_is_found(sql: str, param: int | str) -> None:
    """Finding 2: DELETE and soft-delete UPDATE name the parameter bound to the token column."""
    removal = read_removal(sql)
    assert removal is not None and removal.table == "tokens"
    assert removal.keys["token"] == param


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM tokens WHERE token = ?",
        "UPDATE tokens SET scope = ? WHERE token = ?",
        "UPDATE tokens SET expires_at = ? WHERE token = ?",  # a sliding session extends it
        "UPDATE tokens SET revoked = 0 WHERE token = ?",
        "INSERT INTO tokens (token) VALUES (?)",
        "not sql at all {}",
    ],
)
def test_statements_that_remove_nothing_are_not_removals(sql: str) -> None:
    """A SELECT, an UPDATE that keeps the token alive, an INSERT, non-SQL: no removal."""
    assert read_removal(sql) is None


def test_insert_with_named_parameters_is_read() -> None:
    """An INSERT with :name placeholders and a literal gives its columns and values in order."""
    insert = read_insert("INSERT INTO tokens (token, kind, user_id) VALUES (:t, 'access', :u)")
    assert insert is not None and insert.columns == ["token", "kind", "user_id"]
    assert [getattr(v, "param", v) for v in insert.values] == ["t", "'access'", "u"]


def test_non_token_deletes_are_not_reported(tmp_path: Path) -> None:
    """A DELETE on another table or of expired tokens, dict.pop, cache.delete(key): none found."""
    (tmp_path / "app.py").write_text(
        "def prune(db, cache, settings, entry_id, key, now):\n"
        '    db.execute("DELETE FROM audit_log WHERE id = ?", (entry_id,))\n'
        '    db.execute("DELETE FROM tokens WHERE expires_at < ?", (now,))\n'
        '    settings.pop("theme", None)\n'
        "    cache.delete(key)\n",
        encoding="utf-8",
    )
    assert find_deletes(SourceTree(tmp_path), TokenStore("token")) == []


def test_finding_2_a_token_delete_it_cannot_read_is_reported_without_key(tmp_path: Path) -> None:
    """Finding 2: a DELETE on a token table in SQL the tokenizer cannot read is never dropped."""
    (tmp_path / "store.py").write_text(
        "def forget(db, token):\n"
        '    db.execute("DELETE FROM tokens WHERE token = ? {hint}", (token,))\n',
        encoding="utf-8",
    )
    [delete] = find_deletes(SourceTree(tmp_path), TokenStore("token"))
    assert (delete.where, delete.key) == ("store.py:2", None)
    assert delete.detail == "DELETE FROM tokens in SQL this kit cannot read"


def test_postgres_casts_are_read() -> None:
    """``%s::text`` (a PostgreSQL cast) still names the token parameter."""
    removal = read_removal("DELETE FROM tokens WHERE token = %s::text")
    assert removal is not None and removal.keys == {"token": 0}


STORE_MODULE = (
    "import secrets\n\nACTIVE = {}\n\n\n"
    "def issue(user_id, client_id, scope):\n"
    "    access_token = secrets.token_urlsafe(32)\n"
    '    ACTIVE[access_token] = {"user_id": user_id, "client_id": client_id, "scope": scope}\n'
    "    return access_token\n\n\n"
    "def logout(presented):\n"
    "    ACTIVE.pop(presented, None)\n"
    "    del ACTIVE[presented]\n"
)


def test_pops_and_dels_of_a_store_named_for_tokens_are_found(tmp_path: Path) -> None:
    """``active_tokens.pop(t)`` and ``del active_tokens[t]`` remove tokens, keyed by ``t``."""
    (tmp_path / "store.py").write_text(STORE_MODULE.replace("ACTIVE", "active_tokens"))
    found = find_deletes(SourceTree(tmp_path))
    assert [(d.where, d.detail, d.source.code(d.key) if d.key else None) for d in found] == [
        ("store.py:13", "pop", "presented"),
        ("store.py:14", "del", "presented"),
    ]


def test_a_pop_of_the_store_the_mint_writes_is_found_whatever_its_name(tmp_path: Path) -> None:
    """The dict the mint stores its record in is the token store, even named ``ACTIVE``."""
    (tmp_path / "store.py").write_text(STORE_MODULE)
    tree = SourceTree(tmp_path)
    mint = next(m for m in find_mints(tree)[0])
    write = write_near(tree, mint.source, mint.expression)
    assert write is not None and write.store == "ACTIVE"
    found = find_deletes(tree, token_store([write]))
    assert [d.where for d in found] == ["store.py:13", "store.py:14"]


def test_a_store_no_mint_writes_is_not_a_token_store(tmp_path: Path) -> None:
    """Without the record write, ``ACTIVE`` is just a dict: its pops are not deletes."""
    (tmp_path / "store.py").write_text(STORE_MODULE)
    assert find_deletes(SourceTree(tmp_path)) == []
