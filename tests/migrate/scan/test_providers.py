"""find_provider_servers: SDK provider servers, found by the data, in the styles people write."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest

from migrate.scan.deletes import find_deletes
from migrate.scan.providers import ProviderServer, _major, find_provider_servers
from migrate.scan.source import SourceTree
from tests.migrate.codemods.cases import code
from tests.migrate.codemods.sdk_support import (
    copy_case,
    deletes_of,
    only_server,
    rewritten,
    write,
)

GROUP = "install_mcp"


def server_of(case: str, root: Path) -> ProviderServer:
    copy_case(case, root)
    return only_server(root)[1]


def claims(server: ProviderServer) -> list[dict[str, str]]:
    return [{role: code(v) for role, v in m.claims.items()} for m in server.mints]


def minted(server: ProviderServer) -> list[str]:
    return [f"{m.where} {code(m.expression)}" for m in server.mints]


def test_subclass_with_user_field_on_its_records(tmp_path: Path) -> None:
    """A subclass under mcp 1.x: both exchanges mint, ``sub`` is the record's ``user_id``."""
    server = server_of("subclass_streamable", tmp_path)
    assert server.provider.name == "NotesProvider"
    assert (server.server.variable, server.server.where) == ("mcp", "notes/server.py:13")
    assert [(a.method, a.variable) for a in server.apps] == [("streamable_http_app", "app")]
    assert (server.sdk.package, server.sdk.major) == ("mcp", 1)
    assert minted(server) == [
        "notes/provider.py:63 secrets.token_urlsafe(32)",
        "notes/provider.py:89 secrets.token_urlsafe(32)",
    ]
    assert claims(server) == [
        {
            "subject": "authorization_code.user_id",
            "client_id": 'client.client_id or ""',
            "scope": "authorization_code.scopes",
            "resource": "authorization_code.resource",
        },
        {
            "subject": "refresh_token.user_id",
            "client_id": "refresh_token.client_id",
            "scope": "scopes or refresh_token.scopes",
        },
    ]
    assert server.decisions == ()


def test_refresh_tokens_and_codes_are_not_mints(tmp_path: Path) -> None:
    """The refresh token and the code share the primitive and the function: left alone."""
    server = server_of("subclass_streamable", tmp_path)
    texts = [m.source.code(m.source.parent(m.expression) or m.expression) for m in server.mints]
    assert all("refresh" not in t and "code" not in t for t in texts), texts


def test_returned_lookup_is_the_gate(tmp_path: Path) -> None:
    """``return self.tokens.get(token)`` in ``load_access_token`` is the gate's lookup."""
    gate = server_of("subclass_streamable", tmp_path).gate
    assert gate is not None and gate.lookup is not None
    assert (gate.where, code(gate.lookup.expression)) == (
        "notes/provider.py:96",
        "self.tokens.get(token)",
    )
    assert gate.lookup.target is None and gate.lookup.asynchronous


def test_duck_typed_provider_from_a_factory_in_another_module(tmp_path: Path) -> None:
    """No base class, built by ``build_provider()`` imported from another module, ``run()``."""
    server = server_of("duck_factory_run", tmp_path)
    assert server.provider.name == "LiteProvider"
    assert server.provider.node.bases == ()
    assert (server.server.variable, server.server.where) == ("server", "duckdb/__main__.py:6")
    assert [(a.method, a.variable) for a in server.apps] == [("run", None)]
    assert (server.sdk.package, server.sdk.major) == ("mcp", 2)
    assert "mcp.server.mcpserver" in server.sdk.evidence  # no requirements file: the import
    assert minted(server) == ["duckdb/auth.py:71 _new_token()"]


def test_no_user_means_sub_is_the_client_id_as_a_decision(tmp_path: Path) -> None:
    """A server without users: ``sub`` = client id, stated as a decision, not a manual step."""
    copy_case("duck_factory_run", tmp_path)
    servers, manual = find_provider_servers(SourceTree(tmp_path))
    (server,) = servers
    assert manual == []
    assert claims(server) == [
        {"client_id": "client_id", "scope": '" ".join(scopes)', "subject": "client_id"}
    ]
    (decision,) = server.decisions
    assert decision.where == "duckdb/auth.py:71"
    assert "RFC 9068 §2.2" in decision.text and "subject=" in decision.override


def test_hashed_sqlite_store_and_digest_keyed_gate(tmp_path: Path) -> None:
    """A store keyed by ``sha256(token)``: persistent, hashed, the digest inside the lookup."""
    server = server_of("duck_factory_run", tmp_path)
    assert server.store.text == "persistent: SQLite, hashed at rest"
    assert server.gate is not None and server.gate.lookup is not None
    lookup = server.gate.lookup
    assert "hashlib.sha256(token.encode()).hexdigest()" in code(lookup.expression)
    assert code(lookup.argument) == "token"


def test_deletes_by_digest_revoke_the_token_itself(tmp_path: Path) -> None:
    """``DELETE ... WHERE token_hash = ?`` with ``_digest(token.token)`` revokes ``token.token``."""
    copy_case("duck_factory_run", tmp_path)
    tree, server = only_server(tmp_path)
    assert [(d.where, code(d.key)) for d in deletes_of(tree, server) if d.key] == [
        ("duckdb/auth.py:68", "token.token")
    ]


def test_fastmcp_subclass_with_owner_in_a_side_dict(tmp_path: Path) -> None:
    """fastmcp ``OAuthProvider`` as ``auth=``; the owner read from a dict keyed by the code."""
    server = server_of("fastmcp_side_dict", tmp_path)
    assert (server.provider.name, server.server.constructor) == ("SideProvider", "fastmcp.FastMCP")
    assert (server.sdk.package, server.sdk.major) == ("fastmcp", 4)
    assert [(a.method, a.variable) for a in server.apps] == [("http_app", "app")]
    assert minted(server) == [
        'provider.py:49 "fm_" + secrets.token_hex(20)',
        'provider.py:66 "fm_" + secrets.token_hex(20)',
    ]
    assert [c["subject"] for c in claims(server)] == ["who", "who"]
    assert server.store.text == "in memory: dicts on the provider"


def test_store_the_gate_reads_is_revoked_whatever_its_name(tmp_path: Path) -> None:
    """``self.live`` says nothing of tokens, but the gate reads it: its pops revoke."""
    copy_case("fastmcp_side_dict", tmp_path)
    tree, server = only_server(tmp_path)
    keyed = [(d.where, code(d.key)) for d in deletes_of(tree, server) if d.key is not None]
    assert ("provider.py:79", "token.token") in keyed
    # Without the gate's store the name alone would not have told.
    plain = [d.where for d in find_deletes(tree) if d.key is not None]
    assert "provider.py:79" not in plain


def test_inline_provider_json_store_and_sse(tmp_path: Path) -> None:
    """Built inline, ``sse_app()``, a JSON file store; claims from the dict stored under it."""
    server = server_of("sse_json_store", tmp_path)
    assert server.provider.name == "InlineProvider"
    assert [(a.method, a.variable) for a in server.apps] == [("sse_app", "app")]
    assert server.store.text == "persistent: JSON file"
    assert claims(server) == [
        {
            "client_id": "client.client_id",
            "scope": "authorization_code.scopes",
            "subject": "client.client_id",
        }
    ]


def test_json_store_methods_that_delete_revoke(tmp_path: Path) -> None:
    """``self.store.forget_access(t)`` deletes inside the store class: that pop revokes."""
    copy_case("sse_json_store", tmp_path)
    tree, server = only_server(tmp_path)
    keyed = [(d.where, code(d.key)) for d in deletes_of(tree, server) if d.key is not None]
    assert keyed == [("jsonmcp/store.py:20", "token")]


@pytest.mark.parametrize("case", ["noop_library_only", "starlette_server"])
def test_no_provider_server(tmp_path: Path, case: str) -> None:
    """Library code (a provider never given to a server) and a hand-written Starlette
    server: nothing found, nothing to do by hand."""
    copy_case(case, tmp_path)
    assert find_provider_servers(SourceTree(tmp_path)) == ([], [])


def test_already_migrated_server_is_reported_migrated(tmp_path: Path) -> None:
    """After the codemods: install, mints and gate are all recognised as done."""
    copy_case("subclass_streamable", tmp_path)
    write(tmp_path, rewritten(tmp_path))
    server = only_server(tmp_path)[1]
    assert server.server.migrated
    assert [m.migrated for m in server.mints] == [True, True]
    assert server.gate is not None and server.gate.migrated


def test_server_not_bound_to_a_name_is_a_blocking_manual_step(tmp_path: Path) -> None:
    """``return FastMCP(..., auth_server_provider=...)``: no name to install on."""
    copy_case("subclass_streamable", tmp_path)
    (tmp_path / "notes" / "factory.py").write_text(
        "from mcp.server.fastmcp import FastMCP\n"
        "from .provider import NotesProvider\n\n\n"
        "def build():\n"
        "    return FastMCP('n', auth_server_provider=NotesProvider('bob'))\n",
        encoding="utf-8",
    )
    servers, manual = find_provider_servers(SourceTree(tmp_path))
    assert [s.where for s in servers] == ["notes/server.py:13"]
    assert [(m.where, m.blocks_apply) for m in manual] == [("notes/factory.py:6", True)]


def test_server_built_in_a_factory_function(tmp_path: Path) -> None:
    """A server built inside a function is found there; its provider comes from a factory."""
    copy_case("subclass_streamable", tmp_path)
    server_py = tmp_path / "notes" / "server.py"
    server_py.write_text(
        "from mcp.server.fastmcp import FastMCP\n"
        "from .provider import NotesProvider\n\n\n"
        "def make_provider():\n"
        "    return NotesProvider('bob')\n\n\n"
        "def create():\n"
        "    server = FastMCP('n', auth_server_provider=make_provider())\n"
        "    return server\n",
        encoding="utf-8",
    )
    server = only_server(tmp_path)[1]
    assert (server.server.variable, server.server.where) == ("server", "notes/server.py:10")
    assert server.provider.name == "NotesProvider"


def test_unrelated_auth_keyword_is_no_server(tmp_path: Path) -> None:
    """``auth=`` given something that is not a provider (``AuthSettings``) is not a server."""
    (tmp_path / "app.py").write_text(
        "from mcp.server.fastmcp import FastMCP\n"
        "from mcp.server.auth.settings import AuthSettings\n"
        "mcp = FastMCP('x', auth=AuthSettings(issuer_url='http://a'))\n",
        encoding="utf-8",
    )
    assert find_provider_servers(SourceTree(tmp_path)) == ([], [])


@pytest.mark.parametrize(
    ("spec", "major"),
    [
        ("==2.3.0", 2),
        ("~=1.9", 1),
        (">=1.20,<2", 1),
        (">=4.2,<5", 4),
        (">=1.20", None),
        ("<2.5,>=2.1", 2),
        ("", None),
        (">=1.9,<3", None),
    ],
)
def test_requirement_major(spec: str, major: int | None) -> None:
    """A requirement gives a major only when it allows exactly one."""
    assert _major(spec) == major


def test_gate_returned_lookup_form_is_parsed_back(tmp_path: Path) -> None:
    """The rewritten gate of the returned form still parses and keeps its ``return``."""
    copy_case("subclass_streamable", tmp_path)
    text = rewritten(tmp_path, ("hybrid_gate",))["notes/provider.py"]
    assert (
        "return await oauth_migration.resolve_async(token, legacy=lambda t: self.tokens.get(t))"
        in text
    )
    cst.parse_module(text)


def test_owner_field_only_where_every_record_has_it(tmp_path: Path) -> None:
    """Codes built without ``user_id``: the code exchange does not read a field its record
    lacks (sub falls back to the client id, stated), the refresh exchange still reads it."""
    copy_case("subclass_streamable", tmp_path)
    provider_py = tmp_path / "notes" / "provider.py"
    text = provider_py.read_text(encoding="utf-8")
    provider_py.write_text(text.replace("            user_id=self.user,\n", ""), encoding="utf-8")
    server = only_server(tmp_path)[1]
    assert [c["subject"] for c in claims(server)] == [
        'client.client_id or ""',
        "refresh_token.user_id",
    ]
    assert [d.where for d in server.decisions] == ["notes/provider.py:62"]


PROVIDER_TEMPLATE = """\
import secrets
{imports}
from fastmcp import FastMCP
from mcp.shared.auth import OAuthToken


class P:
    def __init__(self):
        {store}

    async def get_client(self, client_id):
        return None

    async def exchange_authorization_code(self, client, authorization_code):
        access = secrets.token_urlsafe(32)
        self.tokens[access] = authorization_code
        return OAuthToken(access_token=access, scope=" ".join(authorization_code.scopes))

    async def exchange_refresh_token(self, client, refresh_token, scopes):
        raise NotImplementedError

{gate}


mcp = FastMCP("p", auth=P())
"""
LOAD_GATE = """\
    async def load_access_token(self, token):
        return self.tokens.get(token)
"""


def provider_tree(
    root: Path, imports: str = "", store: str = "self.tokens = {}", gate: str = LOAD_GATE
) -> Path:
    (root / "server.py").write_text(
        PROVIDER_TEMPLATE.format(imports=imports, store=store, gate=gate), encoding="utf-8"
    )
    return root


@pytest.mark.parametrize(
    ("imports", "store", "text"),
    [
        ("", "self.tokens = {}", "in memory: dicts on the provider"),
        ("import redis", "self.tokens = redis.Redis()", "persistent: Redis"),
        (
            "from cryptography.fernet import Fernet",
            "self.tokens = {}; self.box = Fernet(Fernet.generate_key())",
            "persistent: encrypted file",
        ),
        (
            "import sqlite3",
            "self.tokens = {}; self.db = sqlite3.connect('t.db')",
            "persistent: SQLite",
        ),
    ],
)
def test_store_kind_from_the_providers_attributes(
    tmp_path: Path, imports: str, store: str, text: str
) -> None:
    """Dicts on ``self`` are memory; Redis, an encrypted file, SQLite are persistent."""
    server = only_server(provider_tree(tmp_path, imports, store))[1]
    assert server.store.text == text


def test_verify_token_with_its_own_lookup_is_the_gate(tmp_path: Path) -> None:
    """fastmcp calls ``verify_token``: where the provider overrides it with a lookup, that is
    the gate; one that only asks ``load_access_token`` leaves the gate there."""
    own = LOAD_GATE + (
        "\n    async def verify_token(self, token):\n"
        "        found = self.tokens.get(token.strip())\n"
        "        if found is None:\n"
        "            return None\n"
        "        return found\n"
    )
    gate = only_server(provider_tree(tmp_path, gate=own))[1].gate
    assert gate is not None and gate.function.name.value == "verify_token"
    delegating = LOAD_GATE + (
        "\n    async def verify_token(self, token):\n"
        "        found = await self.load_access_token(token)\n"
        "        if found is None:\n"
        "            return None\n"
        "        return found\n"
    )
    gate = only_server(provider_tree(tmp_path, gate=delegating))[1].gate
    assert gate is not None and gate.function.name.value == "load_access_token"


def test_gate_without_a_lookup_is_a_manual_step(tmp_path: Path) -> None:
    """A gate checking ``token in self.tokens`` cannot be wrapped: a manual step there."""
    odd = "    async def load_access_token(self, token):\n        return token in self.tokens\n"
    servers, manual = find_provider_servers(SourceTree(provider_tree(tmp_path, gate=odd)))
    assert [s.gate for s in servers] == [None]
    # (the refresh exchange only raises: it issues nothing, so it is no manual step)
    assert [m.where for m in manual] == ["server.py:22"]


def test_untraceable_access_token_is_a_manual_step(tmp_path: Path) -> None:
    """An access token from somewhere the scan cannot follow is reported, not guessed."""
    root = provider_tree(tmp_path)
    text = (root / "server.py").read_text(encoding="utf-8")
    text = text.replace("access = secrets.token_urlsafe(32)", "access = self.issuer.next()")
    (root / "server.py").write_text(text, encoding="utf-8")
    servers, manual = find_provider_servers(SourceTree(root))
    assert [s.mints for s in servers] == [()]
    assert [(m.where, m.guide) for m in manual] == [("server.py:14", "Manual steps: minting")]


def test_sdk_major_from_pyproject_over_the_import(tmp_path: Path) -> None:
    """A pinned ``mcp[cli]==1.9.4`` in pyproject.toml says 1 even where the import is 2.x's."""
    root = provider_tree(tmp_path)
    text = (root / "server.py").read_text(encoding="utf-8")
    text = text.replace("from fastmcp import FastMCP", "from mcp.server.mcpserver import MCPServer")
    text = text.replace('FastMCP("p", auth=P())', 'MCPServer("p", auth_server_provider=P())')
    (root / "server.py").write_text(text, encoding="utf-8")
    assert only_server(root)[1].sdk.major == 2
    (root / "pyproject.toml").write_text(
        '[project]\nname = "p"\ndependencies = [\n    "mcp[cli]==1.9.4",\n]\n', encoding="utf-8"
    )
    sdk = only_server(root)[1].sdk
    assert (sdk.package, sdk.major, sdk.evidence) == ("mcp", 1, "pyproject.toml: mcp[cli]==1.9.4")


def test_inline_digest_lookup_hands_the_runtime_the_token(tmp_path: Path) -> None:
    """``self.tokens.get(sha256(token.encode()).hexdigest())``: ``resolve_async`` is given
    ``token`` and the lambda hashes its parameter (a digest is never a JWT)."""
    hashed = (
        "    async def load_access_token(self, token):\n"
        "        found = self.tokens.get(hashlib.sha256(token.encode()).hexdigest())\n"
        "        if found is None:\n"
        "            return None\n"
        "        return found\n"
    )
    root = provider_tree(tmp_path, imports="import hashlib", gate=hashed)
    text = rewritten(root, ("hybrid_gate",))["server.py"]
    assert (
        "found = await oauth_migration.resolve_async(token, legacy=lambda t: "
        "self.tokens.get(hashlib.sha256(t.encode()).hexdigest()))"
    ) in text


def test_a_second_untraced_access_token_in_one_exchange_blocks(tmp_path: Path) -> None:
    """Review finding 7: beside the traced mint, a branch returning an access token the
    scan cannot follow (`vault.issue(...)`) is a blocking manual step, not a silent pass."""
    copy_case("subclass_streamable", tmp_path)
    provider = tmp_path / "notes" / "provider.py"
    text = provider.read_text(encoding="utf-8")
    traced = "        del self.codes[authorization_code.code]\n"
    assert traced in text
    branch = (
        traced
        + "        if authorization_code.scopes == ['vault']:\n"
        + "            return OAuthToken(access_token=VAULT.issue(client.client_id))\n"
    )
    provider.write_text(text.replace(traced, branch, 1), encoding="utf-8")
    servers, manual = find_provider_servers(SourceTree(tmp_path))
    assert [s.provider.name for s in servers] and servers[0].mints
    [step] = [m for m in manual if "VAULT.issue" in m.expected]
    assert step.blocks_apply and step.where.startswith("notes/provider.py:")
