"""Drive a server of the legacy-zoo contract over plain HTTP (httpx), step by step.

Only the contract is assumed: RFC 8414 metadata at
``/.well-known/oauth-authorization-server`` (endpoints are read from it), dynamic client
registration, an auto-approving ``/authorize`` with PKCE S256, a form-encoded ``/token``
and MCP over streamable HTTP at ``/mcp``.

Each step has a raw form returning the ``httpx.Response`` (for tests of refusals) and a
checked form that raises ``FlowError`` unless the step succeeded::

    flow = OAuthFlow(base_url, http)
    client, tokens = flow.obtain_tokens()  # register, authorize with PKCE, exchange
    with McpSession(http, base_url + "/mcp", tokens.access_token) as mcp:
        mcp.initialize()
        assert mcp.whoami() == "alice"
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import secrets
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, quote_plus, urlsplit

import httpx

# Nothing listens there: the code is read from the Location header of /authorize.
REDIRECT_URI = "http://127.0.0.1:53682/callback"
MCP_ACCEPT = "application/json, text/event-stream"
MCP_PROTOCOL_VERSION = "2025-11-25"


class FlowError(AssertionError):
    """A step of the flow did not give what the contract promises."""


def describe(response: httpx.Response) -> str:
    request = response.request
    return f"{request.method} {request.url} -> {response.status_code}: {response.text[:500]}"


def pkce_pair() -> tuple[str, str]:
    """A fresh (code_verifier, S256 code_challenge) pair."""
    verifier = secrets.token_urlsafe(48)
    return verifier, s256_challenge(verifier)


def s256_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def basic_authorization(client_id: str, client_secret: str) -> str:
    """An HTTP Basic header value, each part form-url-encoded first (RFC 6749 2.3.1)."""
    credentials = f"{quote_plus(client_id)}:{quote_plus(client_secret)}"
    return "Basic " + base64.b64encode(credentials.encode()).decode("ascii")


def redirect_params(response: httpx.Response) -> dict[str, str]:
    """The query parameters of a redirect's Location (the first value of each)."""
    location = response.headers.get("location")
    if response.status_code not in (301, 302, 303, 307, 308) or location is None:
        raise FlowError(f"expected a redirect: {describe(response)}")
    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}


def looks_like_jwt(token: str) -> bool:
    """Three dot-separated base64url segments whose first one decodes to a JSON object.

    A deliberate independent copy of ``shims.verifier.looks_like_jwt``: the tests judge
    the runtime's tokens with their own reading, not with the code under test."""
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        return False
    try:
        header = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
    except ValueError:
        return False
    return isinstance(header, dict)


@dataclass
class RegisteredClient:
    client_id: str
    client_secret: str | None
    token_endpoint_auth_method: str
    redirect_uri: str
    registration: dict[str, Any] = field(repr=False)


@dataclass
class AuthorizationCode:
    code: str
    code_verifier: str
    state: str
    redirect_uri: str
    params: dict[str, str]  # everything the redirect carried


@dataclass
class TokenSet:
    access_token: str
    refresh_token: str | None
    token_type: str
    expires_in: int | None
    scope: str | None
    response: dict[str, Any] = field(repr=False)
    headers: httpx.Headers = field(repr=False)

    @classmethod
    def from_response(cls, response: httpx.Response) -> TokenSet:
        body = response.json()
        if not isinstance(body, dict) or not body.get("access_token"):
            raise FlowError(f"token response without access_token: {describe(response)}")
        return cls(
            access_token=body["access_token"],
            refresh_token=body.get("refresh_token"),
            token_type=body.get("token_type", ""),
            expires_in=body.get("expires_in"),
            scope=body.get("scope"),
            response=body,
            headers=response.headers,
        )


class OAuthFlow:
    """The authorization-server side of the contract, one request per method."""

    def __init__(self, base_url: str, http: httpx.Client) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http
        self._metadata: dict[str, Any] | None = None

    # -- discovery -------------------------------------------------------------------

    def metadata_response(self) -> httpx.Response:
        return self.http.get(self.base_url + "/.well-known/oauth-authorization-server")

    @property
    def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            response = self.metadata_response()
            if response.status_code != 200:
                raise FlowError(f"metadata: {describe(response)}")
            self._metadata = response.json()
        return self._metadata

    def endpoint(self, name: str, default_path: str) -> str:
        value = self.metadata.get(name)
        return value if isinstance(value, str) else self.base_url + default_path

    # -- registration ----------------------------------------------------------------

    def register_response(self, body: dict[str, Any]) -> httpx.Response:
        return self.http.post(self.endpoint("registration_endpoint", "/register"), json=body)

    def register_client(
        self,
        *,
        auth_method: str = "client_secret_basic",
        redirect_uri: str = REDIRECT_URI,
        client_name: str = "oauth-migrate tests",
    ) -> RegisteredClient:
        response = self.register_response(
            {
                "client_name": client_name,
                "redirect_uris": [redirect_uri],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": auth_method,
            }
        )
        if response.status_code not in (200, 201):
            raise FlowError(f"register: {describe(response)}")
        body = response.json()
        if not body.get("client_id"):
            raise FlowError(f"registration without client_id: {describe(response)}")
        return RegisteredClient(
            client_id=body["client_id"],
            client_secret=body.get("client_secret"),
            token_endpoint_auth_method=body.get("token_endpoint_auth_method", auth_method),
            redirect_uri=redirect_uri,
            registration=body,
        )

    # -- authorization ---------------------------------------------------------------

    def authorize_response(self, params: dict[str, str | None]) -> httpx.Response:
        """GET the authorization endpoint with ``params`` (None values left out), no redirects."""
        query = {name: value for name, value in params.items() if value is not None}
        return self.http.get(
            self.endpoint("authorization_endpoint", "/authorize"),
            params=query,
            follow_redirects=False,
        )

    def authorize_params(
        self,
        client: RegisteredClient,
        *,
        code_challenge: str | None,
        state: str | None = None,
        scope: str | None = None,
        resource: str | None = None,
    ) -> dict[str, str | None]:
        return {
            "response_type": "code",
            "client_id": client.client_id,
            "redirect_uri": client.redirect_uri,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256" if code_challenge is not None else None,
            "state": state,
            "scope": scope,
            "resource": resource,
        }

    def authorize(
        self, client: RegisteredClient, *, scope: str | None = None, resource: str | None = None
    ) -> AuthorizationCode:
        verifier, challenge = pkce_pair()
        state = secrets.token_urlsafe(16)
        params = self.authorize_params(
            client, code_challenge=challenge, state=state, scope=scope, resource=resource
        )
        response = self.authorize_response(params)
        answer = redirect_params(response)
        location = response.headers["location"]
        if not location.startswith(client.redirect_uri):
            raise FlowError(f"authorize redirected to an unregistered URI: {location}")
        if "code" not in answer:
            raise FlowError(f"authorize redirect without code: {location}")
        if answer.get("state") != state:
            raise FlowError(f"authorize did not echo state {state!r}: {location}")
        return AuthorizationCode(
            code=answer["code"],
            code_verifier=verifier,
            state=state,
            redirect_uri=client.redirect_uri,
            params=answer,
        )

    # -- token endpoint --------------------------------------------------------------

    def _client_auth(
        self, client: RegisteredClient, form: dict[str, str]
    ) -> tuple[dict[str, str], dict[str, str]]:
        """The form and headers that authenticate the client its registered way."""
        form = dict(form)
        if client.token_endpoint_auth_method == "client_secret_basic" and client.client_secret:
            return form, {
                "Authorization": basic_authorization(client.client_id, client.client_secret)
            }
        form["client_id"] = client.client_id
        if client.token_endpoint_auth_method == "client_secret_post" and client.client_secret:
            form["client_secret"] = client.client_secret
        return form, {}

    def token_response(self, client: RegisteredClient, form: dict[str, str]) -> httpx.Response:
        form, headers = self._client_auth(client, form)
        return self.http.post(self.endpoint("token_endpoint", "/token"), data=form, headers=headers)

    def exchange_code_response(
        self, client: RegisteredClient, code: AuthorizationCode, *, code_verifier: str | None = None
    ) -> httpx.Response:
        form = {
            "grant_type": "authorization_code",
            "code": code.code,
            "redirect_uri": code.redirect_uri,
            "code_verifier": code_verifier if code_verifier is not None else code.code_verifier,
        }
        return self.token_response(client, form)

    def exchange_code(self, client: RegisteredClient, code: AuthorizationCode) -> TokenSet:
        response = self.exchange_code_response(client, code)
        if response.status_code != 200:
            raise FlowError(f"authorization_code grant: {describe(response)}")
        return TokenSet.from_response(response)

    def refresh_response(self, client: RegisteredClient, refresh_token: str) -> httpx.Response:
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return self.token_response(client, form)

    def refresh(self, client: RegisteredClient, refresh_token: str) -> TokenSet:
        response = self.refresh_response(client, refresh_token)
        if response.status_code != 200:
            raise FlowError(f"refresh_token grant: {describe(response)}")
        return TokenSet.from_response(response)

    def revoke_response(
        self, client: RegisteredClient, token: str, token_type_hint: str | None = None
    ) -> httpx.Response:
        form = {"token": token}
        if token_type_hint is not None:
            form["token_type_hint"] = token_type_hint
        form, headers = self._client_auth(client, form)
        url = self.endpoint("revocation_endpoint", "/revoke")
        return self.http.post(url, data=form, headers=headers)

    def revoke(
        self, client: RegisteredClient, token: str, token_type_hint: str | None = None
    ) -> None:
        response = self.revoke_response(client, token, token_type_hint)
        if response.status_code != 200:
            raise FlowError(f"revoke: {describe(response)}")

    # -- all of it -------------------------------------------------------------------

    def obtain_tokens(
        self,
        client: RegisteredClient | None = None,
        *,
        scope: str | None = None,
        resource: str | None = None,
    ) -> tuple[RegisteredClient, TokenSet]:
        """Register (unless given a client), authorize with PKCE and exchange the code."""
        if client is None:
            client = self.register_client()
        code = self.authorize(client, scope=scope, resource=resource)
        return client, self.exchange_code(client, code)


class McpError(FlowError):
    """A JSON-RPC error answer, or an HTTP answer that carries no JSON-RPC response."""


def jsonrpc_messages(response: httpx.Response) -> list[dict[str, Any]]:
    """The JSON-RPC messages in an MCP answer, whether plain JSON or an SSE stream."""
    content_type = response.headers.get("content-type", "")
    if content_type.startswith("text/event-stream"):
        messages: list[dict[str, Any]] = []
        data_lines: list[str] = []
        for line in [*response.text.splitlines(), ""]:
            if line == "":
                if data_lines:
                    data = "\n".join(data_lines)
                    if data.strip():
                        messages.append(json.loads(data))
                    data_lines = []
            elif line.startswith("data:"):
                data_lines.append(line[5:].removeprefix(" "))
        return messages
    if content_type.startswith("application/json"):
        body = response.json()
        return body if isinstance(body, list) else [body]
    return []


class McpSession:
    """A bare MCP client over streamable HTTP: JSON-RPC POSTs, JSON or SSE answers."""

    def __init__(
        self,
        http: httpx.Client,
        url: str,
        access_token: str | None,
        *,
        protocol_version: str = MCP_PROTOCOL_VERSION,
    ) -> None:
        self.http = http
        self.url = url
        self.access_token = access_token
        self.requested_protocol_version = protocol_version
        self.protocol_version: str | None = None  # the negotiated one, after initialize
        self.session_id: str | None = None
        self._next_id = 1

    def headers(self) -> dict[str, str]:
        headers = {"Accept": MCP_ACCEPT, "Content-Type": "application/json"}
        if self.access_token is not None:
            headers["Authorization"] = f"Bearer {self.access_token}"
        if self.session_id is not None:
            headers["Mcp-Session-Id"] = self.session_id
        if self.protocol_version is not None:
            headers["MCP-Protocol-Version"] = self.protocol_version
        return headers

    def post(self, message: dict[str, Any]) -> httpx.Response:
        """POST one JSON-RPC message and return the raw answer."""
        return self.http.post(
            self.url, content=json.dumps(message), headers=self.headers(), follow_redirects=False
        )

    def request(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send a request; return its ``result`` (raise McpError on anything else)."""
        request_id = self._next_id
        self._next_id += 1
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        response = self.post(message)
        if response.status_code != 200:
            raise McpError(f"{method}: {describe(response)}")
        session_id = response.headers.get("mcp-session-id")
        if session_id:
            self.session_id = session_id
        for answer in jsonrpc_messages(response):
            if answer.get("id") != request_id:
                continue  # a notification or a server request on the same stream
            if "error" in answer:
                raise McpError(f"{method}: JSON-RPC error {answer['error']}")
            result: dict[str, Any] = answer["result"]
            return result
        raise McpError(f"{method}: no JSON-RPC response with id {request_id}: {describe(response)}")

    def notify(self, method: str, params: dict[str, Any] | None = None) -> httpx.Response:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        response = self.post(message)
        if response.status_code not in (200, 202, 204):
            raise McpError(f"{method}: {describe(response)}")
        return response

    def initialize(self) -> dict[str, Any]:
        """``initialize`` then ``notifications/initialized``; returns the initialize result."""
        result = self.request(
            "initialize",
            {
                "protocolVersion": self.requested_protocol_version,
                "capabilities": {},
                "clientInfo": {"name": "oauth-migrate-tests", "version": "0"},
            },
        )
        self.protocol_version = result.get("protocolVersion", self.requested_protocol_version)
        self.notify("notifications/initialized")
        return result

    def list_tools(self) -> list[dict[str, Any]]:
        tools: list[dict[str, Any]] = self.request("tools/list", {})["tools"]
        return tools

    def call_tool(self, name: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.request("tools/call", {"name": name, "arguments": arguments or {}})

    def whoami(self) -> str:
        """The text ``whoami`` answers (raise McpError if the tool reports an error)."""
        result = self.call_tool("whoami")
        if result.get("isError"):
            raise McpError(f"whoami reported an error: {result}")
        texts = [item["text"] for item in result.get("content", []) if item.get("type") == "text"]
        if not texts:
            raise McpError(f"whoami answered no text: {result}")
        return "".join(texts).strip()

    def close(self) -> None:
        """End the MCP session (DELETE), if the server opened one; errors are ignored."""
        if self.session_id is None:
            return
        with contextlib.suppress(httpx.HTTPError):
            self.http.delete(self.url, headers=self.headers())
        self.session_id = None

    def __enter__(self) -> McpSession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def whoami_with(http: httpx.Client, mcp_url: str, access_token: str) -> str:
    """Open an MCP session with ``access_token`` and return what ``whoami`` says."""
    with McpSession(http, mcp_url, access_token) as session:
        session.initialize()
        return session.whoami()


def send_initialize(http: httpx.Client, mcp_url: str, access_token: str | None) -> httpx.Response:
    """The raw answer to an ``initialize`` sent with ``access_token`` (or no token)."""
    session = McpSession(http, mcp_url, access_token)
    return session.post(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": MCP_PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "oauth-migrate-tests", "version": "0"},
            },
        }
    )
