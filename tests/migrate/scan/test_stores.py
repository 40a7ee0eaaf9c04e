"""How the plan words the token store: read from the code that mints and looks tokens up."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrate.scan.gates import find_gates
from migrate.scan.source import SourceTree
from migrate.scan.stores import UNKNOWN_STORE, describe_store
from tests.migrate.e2e_support import FIXTURE_SERVERS, copy_tree

MEMORY = "in memory (a dict or set in the code that mints and reads the tokens)"

GATE = (
    "def guard(request):\n"
    '    bearer = request.headers.get("Authorization", "")[7:]\n'
    "    entry = tokens.get(bearer)\n"
    "    if entry is None:\n"
    "        raise PermissionError\n"
    "    return entry\n"
)


def _describe(root: Path, header: str, **others: str) -> tuple[str, str, bool]:
    (root / "guard.py").write_text(header + GATE, encoding="utf-8")
    for name, text in others.items():
        (root / f"{name}.py").write_text(text, encoding="utf-8")
    tree = SourceTree(root)
    gates, _ = find_gates(tree)
    assert gates, "the gate was not found"
    found = describe_store(tree, gates)
    return found.where, found.text, found.persistent


def test_a_dict_of_tokens_is_in_memory(tmp_path: Path) -> None:
    """A module-level dict the gate reads: in memory, located at the gate's lookup."""
    where, text, persistent = _describe(tmp_path, "tokens = {}\n\n\n")
    assert (text, persistent) == (MEMORY, False)
    assert where.startswith("guard.py:")


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        ('import sqlite3\ndb = sqlite3.connect("t.db")\ntokens = Table(db)\n\n\n', "SQLite"),
        ("import redis\ntokens = redis.Redis()\n\n\n", "Redis"),
        ("from redis.asyncio import Redis\ntokens = Redis.from_url(URL)\n\n\n", "Redis"),
        ("import shelve\ntokens = shelve.open('t')\n\n\n", "shelve/dbm file"),
        ("import pymongo\ntokens = pymongo.MongoClient().db.tokens\n\n\n", "MongoDB"),
        (
            "from azure.data.tables import TableClient\ntokens = TableClient(conn, 't')\n\n\n",
            "cloud table/blob",
        ),
        (
            "import json, pathlib\ntokens = json.loads(pathlib.Path('t.json').read_text())\n\n\n",
            "JSON file",
        ),
    ],
)
def test_the_store_the_gate_reads_names_its_kind(tmp_path: Path, header: str, kind: str) -> None:
    """The object the lookup reads is bound to a database, file or cache client: persistent."""
    _, text, persistent = _describe(tmp_path, header)
    assert (text, persistent) == (f"persistent: {kind}", True)


STORE_CLASS = (
    "import aiosqlite\n"
    "from cryptography.fernet import Fernet\n\n\n"
    "class TokenBox:\n"
    "    def __init__(self, path):\n"
    "        self.path = path\n"
    "        self.box = Fernet(KEY)\n\n"
    "    async def get(self, token):\n"
    "        async with aiosqlite.connect(self.path) as db:\n"
    '            return await db.execute("SELECT 1")\n'
)


def test_a_store_class_in_another_module_is_followed(tmp_path: Path) -> None:
    """``tokens = TokenBox(...)`` imported from the tree: its methods name the kinds."""
    header = 'from box import TokenBox\ntokens = TokenBox("t.db")\n\n\n'
    _, text, persistent = _describe(tmp_path, header, box=STORE_CLASS)
    assert (text, persistent) == ("persistent: SQLite, encrypted file", True)


def test_json_dumps_written_to_a_file_is_a_json_store(tmp_path: Path) -> None:
    """``json.dumps`` whose text ``write_text`` writes, in a helper the store calls."""
    header = (
        "import json\n\n\n"
        "class Tokens(dict):\n"
        "    def save(self):\n"
        "        PATH.write_text(json.dumps(self))\n\n\n"
        "tokens = Tokens()\n\n\n"
    )
    _, text, _ = _describe(tmp_path, header)
    assert text == "persistent: JSON file"


RAG = (
    '"""Retrieval: chunks of the notes, tokenized, in SQLite."""\n'
    "import sqlite3\n\n"
    'INDEX = sqlite3.connect("rag.db")\n\n\n'
    "def tokenize(text):\n"
    "    return text.split()\n\n\n"
    "def search(query):\n"
    '    return INDEX.execute("SELECT chunk FROM chunks WHERE token = ?", (query,)).fetchall()\n'
)


def test_an_unrelated_database_module_says_nothing_of_the_store(tmp_path: Path) -> None:
    """Tokens in a dict beside a SQLite RAG module the server imports: still in memory."""
    header = "from rag import search\n\ntokens = {}\n\n\ndef tool(q):\n    return search(q)\n\n\n"
    _, text, persistent = _describe(tmp_path, header, rag=RAG)
    assert (text, persistent) == (MEMORY, False)


def test_a_store_the_kit_does_not_know_is_unknown_and_persistent(tmp_path: Path) -> None:
    """No dict and no known client: unknown, read as persistent (status waits a lifetime)."""
    (tmp_path / "guard.py").write_text("import vaultkv\ntokens = vaultkv.Client()\n\n\n" + GATE)
    tree = SourceTree(tmp_path)
    found = describe_store(tree, find_gates(tree)[0])
    assert (found.text, found.persistent) == (UNKNOWN_STORE, True)
    assert found.hybrid_period.startswith("The kit could not tell where the tokens are kept")


DEPENDENCY_GATE = (
    "import aiosqlite\n"
    "from fastapi import Depends\n\n\n"
    "async def get_db():\n"
    '    async with aiosqlite.connect("t.db") as db:\n'
    "        yield db\n\n\n"
    "async def guard(request, db=Depends(get_db)):\n"
    '    bearer = request.headers.get("Authorization", "")[7:]\n'
    '    row = await db.execute("SELECT * FROM tokens WHERE token = ?", (bearer,))\n'
    "    if row is None:\n"
    "        raise PermissionError\n"
    "    return row\n"
)


def test_a_dependency_that_yields_the_connection_is_followed(tmp_path: Path) -> None:
    """``Depends(get_db)`` in the gate's parameters: the dependency's aiosqlite is the store."""
    (tmp_path / "deps.py").write_text(DEPENDENCY_GATE, encoding="utf-8")
    tree = SourceTree(tmp_path)
    gates, _ = find_gates(tree)
    assert describe_store(tree, gates).text == "persistent: SQLite"


STATE_GATE = (
    "async def guard(request):\n"
    '    bearer = request.headers.get("Authorization", "")[7:]\n'
    "    entry = await request.app.state.repo.get(bearer)\n"
    "    if entry is None:\n"
    "        raise PermissionError\n"
    "    return entry\n"
)


def test_an_attribute_set_at_startup_is_followed(tmp_path: Path) -> None:
    """``request.app.state.repo`` read by the gate, set to ``Repo(...)`` in a lifespan."""
    (tmp_path / "gate.py").write_text(STATE_GATE, encoding="utf-8")
    main = (
        "from box import TokenBox\n\n\nasync def lifespan(app):\n    app.state.repo = TokenBox(P)\n"
    )
    (tmp_path / "main.py").write_text(main, encoding="utf-8")
    (tmp_path / "box.py").write_text(STORE_CLASS, encoding="utf-8")
    tree = SourceTree(tmp_path)
    gates, _ = find_gates(tree)
    assert describe_store(tree, gates).text == "persistent: SQLite, encrypted file"


def test_the_hybrid_period_is_worded_for_each_kind(tmp_path: Path) -> None:
    """In memory: as short as the deploy; persistent: one access-token lifetime, see status."""
    (tmp_path / "guard.py").write_text("tokens = {}\n\n\n" + GATE, encoding="utf-8")
    tree = SourceTree(tmp_path)
    memory = describe_store(tree, find_gates(tree)[0])
    assert "as short as the deploy" in memory.hybrid_period
    (tmp_path / "guard.py").write_text("import pickle\ntokens = pickle.load(F)\n\n\n" + GATE)
    tree = SourceTree(tmp_path)
    persistent = describe_store(tree, find_gates(tree)[0])
    assert "`migrate status`" in persistent.hybrid_period


def test_no_gate_and_no_mint_is_unknown(tmp_path: Path) -> None:
    """Nothing to read the store from: unknown, the safe reading, at the whole tree."""
    (tmp_path / "guard.py").write_text("tokens = {}\n", encoding="utf-8")
    found = describe_store(SourceTree(tmp_path), [])
    assert (found.where, found.persistent) == ("(whole tree)", True)


def test_a_sealed_file_beside_an_unrelated_sqlite_glossary(tmp_path: Path) -> None:
    """The fixture server whose tokens are a Fernet-sealed JSON file and whose tools read a
    SQLite glossary (``tokenize``, ``sqlite3.connect``): the store is the sealed file only."""
    root = copy_tree(FIXTURE_SERVERS / "starlette_sealed", tmp_path / "server")
    tree = SourceTree(root)
    found = describe_store(tree, find_gates(tree)[0])
    assert (found.text, found.persistent) == ("persistent: encrypted file, JSON file", True)


REGISTRY_GATE = (
    "from flask import current_app, request\n\n\n"
    "def guard():\n"
    '    bearer = request.headers.get("Authorization", "")[7:]\n'
    '    row = current_app.extensions["token_db"].one("SELECT * FROM t WHERE k = ?", bearer)\n'
    "    if row is None:\n"
    "        raise PermissionError\n"
    "    return row\n"
)
FACTORY = (
    "import sqlite3\nfrom flask import Flask\n\n\n"
    "class Db:\n"
    "    def __init__(self, path):\n"
    "        self.conn = sqlite3.connect(path)\n\n\n"
    "def create_app():\n"
    "    app = Flask(__name__)\n"
    '    db = Db("t.db")\n'
    '    app.extensions["token_db"] = db\n'
    "    return app\n"
)


def test_a_slot_of_the_apps_registry_is_followed(tmp_path: Path) -> None:
    """``current_app.extensions["token_db"]`` read by the gate, filled in the factory with
    a class over sqlite3: SQLite, not just the SQL the gate sends."""
    (tmp_path / "gate.py").write_text(REGISTRY_GATE, encoding="utf-8")
    (tmp_path / "factory.py").write_text(FACTORY, encoding="utf-8")
    tree = SourceTree(tmp_path)
    assert describe_store(tree, find_gates(tree)[0]).text == "persistent: SQLite"
