"""Connect the official MCP Python SDK client (mcp 2.x, HTTP stack httpx2) to a server.

Two ways in, both ending with ``list_tools()`` and ``call_tool("whoami", {})``:

- ``connect_with_oauth``: the SDK does everything itself on the server's 401 (discovery,
  dynamic client registration, authorization code with PKCE S256, token exchange). The
  "browser" is headless: it GETs the authorization URL without following the redirect
  and hands the ``code``/``state``/``iss`` of the Location header back to the SDK.
- ``connect_with_token``: a token obtained beforehand is sent as a bearer header, no OAuth.

Both are synchronous wrappers (``anyio.run``) around ``async`` versions of the same name.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx2
from mcp.client import Client
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
    TokenEndpointAuthMethod,
)
from mcp.types import CallToolResult, TextContent
from pydantic import AnyUrl

from tests.support.oauth_flow import REDIRECT_URI  # nothing listens there

DEFAULT_TIMEOUT = 30.0


class SdkClientError(AssertionError):
    """The SDK client did not get through, or whoami did not answer properly."""


@dataclass
class SdkRun:
    whoami: str
    tool_names: list[str]
    access_token: str | None  # what the SDK stored (None when connecting with a given token)
    client_info: OAuthClientInformationFull | None
    authorization_urls: list[str]  # every URL the SDK sent the "browser" to


class InMemoryTokenStorage:
    """The SDK's ``TokenStorage``: tokens and client registration kept in memory."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


class HeadlessBrowser:
    """The SDK's redirect and callback handlers, without a browser or a callback server."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout
        self.authorization_urls: list[str] = []
        self._result: AuthorizationCodeResult | None = None

    async def redirect_handler(self, authorization_url: str) -> None:
        self.authorization_urls.append(authorization_url)
        async with httpx2.AsyncClient(timeout=self.timeout, follow_redirects=False) as http:
            response = await http.get(authorization_url)
        location = response.headers.get("location")
        if response.status_code not in (301, 302, 303, 307, 308) or location is None:
            raise SdkClientError(
                "authorization endpoint did not redirect: "
                f"{response.status_code} {response.text[:300]}"
            )
        query = {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}
        if "code" not in query:
            raise SdkClientError(f"authorization redirect without code: {location}")
        self._result = AuthorizationCodeResult(
            code=query["code"], state=query.get("state"), iss=query.get("iss")
        )

    async def callback_handler(self) -> AuthorizationCodeResult:
        if self._result is None:
            raise SdkClientError("callback_handler called before redirect_handler")
        result, self._result = self._result, None
        return result


async def _list_and_call_whoami(
    mcp_url: str, http: httpx2.AsyncClient, mode: str
) -> tuple[list[str], str]:
    async with Client(streamable_http_client(mcp_url, http_client=http), mode=mode) as client:
        tools = await client.list_tools()
        result = await client.call_tool("whoami", {})
    return [tool.name for tool in tools.tools], _whoami_text(result)


def _whoami_text(result: CallToolResult) -> str:
    if result.is_error:
        raise SdkClientError(f"whoami reported an error: {result.content}")
    texts = [item.text for item in result.content if isinstance(item, TextContent)]
    if not texts:
        raise SdkClientError(f"whoami answered no text: {result.content}")
    return "".join(texts).strip()


async def connect_with_oauth_async(
    mcp_url: str,
    *,
    redirect_uri: str = REDIRECT_URI,
    auth_method: TokenEndpointAuthMethod = "client_secret_basic",
    scope: str | None = None,
    mode: str = "legacy",
    timeout: float = DEFAULT_TIMEOUT,
) -> SdkRun:
    """Let the SDK authorize itself against ``mcp_url``, then list tools and call whoami."""
    storage = InMemoryTokenStorage()
    browser = HeadlessBrowser(timeout)
    client_metadata = OAuthClientMetadata(
        client_name="oauth-migrate tests (MCP SDK)",
        redirect_uris=[AnyUrl(redirect_uri)],
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        token_endpoint_auth_method=auth_method,
        scope=scope,
    )
    provider = OAuthClientProvider(
        server_url=mcp_url,
        client_metadata=client_metadata,
        storage=storage,
        redirect_handler=browser.redirect_handler,
        callback_handler=browser.callback_handler,
    )
    async with httpx2.AsyncClient(auth=provider, timeout=timeout) as http:
        tool_names, whoami = await _list_and_call_whoami(mcp_url, http, mode)
    return SdkRun(
        whoami=whoami,
        tool_names=tool_names,
        access_token=storage.tokens.access_token if storage.tokens else None,
        client_info=storage.client_info,
        authorization_urls=browser.authorization_urls,
    )


async def connect_with_token_async(
    mcp_url: str, access_token: str, *, mode: str = "legacy", timeout: float = DEFAULT_TIMEOUT
) -> SdkRun:
    """Connect with a bearer token obtained beforehand, then list tools and call whoami."""
    headers = {"Authorization": f"Bearer {access_token}"}
    async with httpx2.AsyncClient(headers=headers, timeout=timeout) as http:
        tool_names, whoami = await _list_and_call_whoami(mcp_url, http, mode)
    return SdkRun(
        whoami=whoami,
        tool_names=tool_names,
        access_token=None,
        client_info=None,
        authorization_urls=[],
    )


def connect_with_oauth(
    mcp_url: str,
    *,
    redirect_uri: str = REDIRECT_URI,
    auth_method: TokenEndpointAuthMethod = "client_secret_basic",
    scope: str | None = None,
    mode: str = "legacy",
    timeout: float = DEFAULT_TIMEOUT,
) -> SdkRun:
    async def run() -> SdkRun:
        return await connect_with_oauth_async(
            mcp_url,
            redirect_uri=redirect_uri,
            auth_method=auth_method,
            scope=scope,
            mode=mode,
            timeout=timeout,
        )

    return anyio.run(run)


def connect_with_token(
    mcp_url: str, access_token: str, *, mode: str = "legacy", timeout: float = DEFAULT_TIMEOUT
) -> SdkRun:
    async def run() -> SdkRun:
        return await connect_with_token_async(mcp_url, access_token, mode=mode, timeout=timeout)

    return anyio.run(run)
