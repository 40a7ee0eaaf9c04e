"""The MCP server itself (official MCP Python SDK) and its one tool, ``whoami``.

The bearer check already happened in ``BearerTokenMiddleware``, which put the token's
record on ``request.state.token``; the tool reads it from the HTTP request behind the
MCP call.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from starlette.requests import Request

from sample_legacy.store import TokenRecord

mcp = MCPServer(
    "sample-legacy",
    version="0.3.1",
    instructions="A demo MCP server; whoami tells which user your access token belongs to.",
)


@mcp.tool()
def whoami(ctx: Context[Any, Request]) -> str:
    """Return the id of the user the access token in use was issued to."""
    request = ctx.request_context.request
    if request is None:
        raise ValueError("whoami needs an HTTP request")
    record: TokenRecord = request.state.token
    return record.user_id
