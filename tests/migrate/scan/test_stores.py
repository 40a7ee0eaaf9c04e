"""How the plan words the token store: in memory (short hybrid period) or persistent."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrate.scan.gates import find_gates
from migrate.scan.source import SourceTree
from migrate.scan.stores import describe_store

GATE = (
    "def guard(request):\n"
    '    bearer = request.headers.get("Authorization", "")[7:]\n'
    "    entry = tokens.get(bearer)\n"
    "    if entry is None:\n"
    "        raise PermissionError\n"
    "    return entry\n"
)


def _describe(tmp_path: Path, header: str) -> tuple[str, str, bool]:
    (tmp_path / "guard.py").write_text(header + GATE, encoding="utf-8")
    tree = SourceTree(tmp_path)
    gates, _ = find_gates(tree)
    found = describe_store(tree, gates)
    return found.where, found.text, found.persistent


def test_a_dict_of_tokens_is_in_memory(tmp_path: Path) -> None:
    """No file or database next to the tokens: in memory, located at the gate's lookup."""
    where, text, persistent = _describe(tmp_path, "tokens = {}\n\n\n")
    assert (text, persistent) == ("in memory (no file or database found next to the tokens)", False)
    assert where.startswith("guard.py:")


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        ('import sqlite3\ndb = sqlite3.connect("t.db")\ntokens = {}\n\n\n', "sqlite3 table"),
        ("import redis\nr = redis.Redis()\ntokens = {}\n\n\n", "Redis"),
        ("import shelve\ntokens = shelve.open('t')\n\n\n", "shelve/dbm file"),
    ],
)
def test_a_database_or_file_beside_the_tokens_is_persistent(
    tmp_path: Path, header: str, kind: str
) -> None:
    """sqlite3, Redis or shelve in the tokens' module: persistent, naming the kind."""
    _, text, persistent = _describe(tmp_path, header)
    assert (text, persistent) == (f"persistent: {kind}", True)


def test_a_database_in_a_module_without_tokens_does_not_count(tmp_path: Path) -> None:
    """A sqlite3 connection in a module that never mentions tokens says nothing of the store."""
    (tmp_path / "audit.py").write_text('import sqlite3\nlog = sqlite3.connect("a.db")\n')
    _, _, persistent = _describe(tmp_path, "tokens = {}\n\n\n")
    assert persistent is False


def test_the_hybrid_period_is_worded_for_each_kind(tmp_path: Path) -> None:
    """In memory: as short as the deploy; persistent: one access-token lifetime, see status."""
    (tmp_path / "guard.py").write_text("tokens = {}\n\n\n" + GATE, encoding="utf-8")
    memory = describe_store(SourceTree(tmp_path), [])
    assert "as short as the deploy" in memory.hybrid_period
    assert memory.where == "(whole tree)"
    (tmp_path / "guard.py").write_text("import pickle\npickle.dump(tokens, f)\n" + GATE)
    persistent = describe_store(SourceTree(tmp_path), [])
    assert "`migrate status`" in persistent.hybrid_period
