"""The SDK-provider recipe's plan on trees no other test builds."""

from __future__ import annotations

from pathlib import Path

from migrate.planner import plan_hybrid
from tests.migrate.codemods.sdk_support import copy_case

SECOND_SERVER = """

# A second MCP server in the same module: its own provider class and issuer.
admin = FastMCP(
    "admin",
    auth_server_provider=AdminProvider(),
    auth=AuthSettings(
        issuer_url="http://127.0.0.1:9100",
        resource_server_url="http://127.0.0.1:9100/mcp",
        client_registration_options=ClientRegistrationOptions(enabled=True),
    ),
)
"""


def _two_servers(root: Path) -> Path:
    copy_case("subclass_streamable", root)
    notes = root / "notes"
    provider = (notes / "provider.py").read_text(encoding="utf-8")
    (notes / "admin_provider.py").write_text(
        provider.replace("class NotesProvider", "class AdminProvider"), encoding="utf-8"
    )
    server = notes / "server.py"
    text = server.read_text(encoding="utf-8")
    text = text.replace(
        "from .provider import NotesProvider",
        "from .admin_provider import AdminProvider\nfrom .provider import NotesProvider",
    )
    server.write_text(text + SECOND_SERVER, encoding="utf-8")
    return root


def test_two_servers_in_one_tree_block_with_one_step(tmp_path: Path) -> None:
    """Review finding 8: two servers plan (each delete revoked once), and apply is blocked
    by one step naming both: one runtime serves one MCP server per process."""
    plan = plan_hybrid(_two_servers(tmp_path))
    [step] = [m for m in plan.manual if m.expected.startswith("one MCP server object")]
    assert step.blocks_apply and step.where.count("notes/server.py:") == 2
    assert plan.blocked_by
    revokes = [c.after.count("oauth_migration.revoke(") for c in plan.changes]
    befores = [(c.before or "").count(".pop(") for c in plan.changes]
    assert sum(revokes) <= sum(befores)  # never two revoke lines for one delete


def test_one_server_has_no_such_step(tmp_path: Path) -> None:
    copy_case("subclass_streamable", tmp_path)
    plan = plan_hybrid(tmp_path)
    assert not [m for m in plan.manual if m.expected.startswith("one MCP server object")]
