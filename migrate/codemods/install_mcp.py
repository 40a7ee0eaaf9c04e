"""Install the runtime on an MCP SDK server object, right after the statement building it.

Changes: after ``mcp = FastMCP(..., auth_server_provider=provider, ...)`` (mcp 1.x), its
2.x twin ``MCPServer(...)``, or fastmcp's ``FastMCP(..., auth=provider)``, one statement
``oauth_migration.install_mcp(mcp)``. From there every app the server builds
(``streamable_http_app()``, ``sse_app()``, ``http_app()``, the one ``run()`` builds) serves
the JWKS, introspection and the RFC 8414 document with ``jwks_uri`` (the SDK's model drops
unknown fields, so the runtime answers that path ahead of the SDK), and its Bearer 401
challenges carry ``resource_metadata`` (RFC 9728 §5.1).

Why it is safe: the call only registers what the server's apps add when they are built; it
runs before any app exists, so an app built later (or by ``run()``) gets it, and nothing
the legacy code configured on the server is replaced. Comments and blank lines around the
construction stay where they are.

Refuses: a server already installed (no second call); a server not bound to a name
(``return FastMCP(...)``), which the finder reports as a manual step.
"""

from __future__ import annotations

import libcst as cst

from migrate import runtime_api
from migrate.codemods.build import runtime_call
from migrate.codemods.edits import FileEdits
from migrate.codemods.spec import StepSpec
from migrate.scan.providers import ServerSite

STEP = StepSpec(
    "install-mcp",
    "serve JWKS, introspection and the metadata from every app the MCP server builds",
    phases=("hybrid",),
    consumes=("server",),
    edits_code=True,
    runtime=True,
    installs=True,
)


def install_statement(server: ServerSite) -> cst.SimpleStatementLine:
    call = runtime_call(runtime_api.INSTALL_MCP, cst.Name(server.variable))
    return cst.SimpleStatementLine([cst.Expr(call)])


def install_mcp(server: ServerSite) -> FileEdits:
    edits = FileEdits()
    if server.migrated:
        return edits
    statement = install_statement(server)

    def after(node: cst.CSTNode) -> cst.FlattenSentinel[cst.CSTNode]:
        return cst.FlattenSentinel([node, statement])

    edits.add(server.statement, after)
    return edits
