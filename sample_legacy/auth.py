"""The bearer-token gate in front of /mcp.

A request gets through only with ``Authorization: Bearer <token>`` naming an access token
that is in our token store and has not expired. The token's record is left on
``request.state.token`` for the MCP tools.
"""

from __future__ import annotations

from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp

from sample_legacy.store import TokenStore


class BearerTokenMiddleware(BaseHTTPMiddleware):
    def __init__(self, app: ASGIApp, store: TokenStore, protected_path: str = "/mcp") -> None:
        super().__init__(app)
        self.store = store
        self.protected_path = protected_path

    def _is_protected(self, path: str) -> bool:
        return path == self.protected_path or path.startswith(self.protected_path + "/")

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if not self._is_protected(request.url.path):
            return await call_next(request)

        authorization = request.headers.get("Authorization", "")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return unauthorized()

        record = self.store.get_access_token(token)
        if record is None:
            return unauthorized("invalid_token", "The access token is invalid or has expired.")

        request.state.token = record
        return await call_next(request)


def unauthorized(error: str | None = None, description: str | None = None) -> JSONResponse:
    challenge = 'Bearer realm="mcp"'
    if error:
        challenge += f', error="{error}", error_description="{description}"'
    return JSONResponse(
        {
            "error": error or "unauthorized",
            "error_description": description or "Bearer token required.",
        },
        status_code=401,
        headers={"WWW-Authenticate": challenge},
    )
