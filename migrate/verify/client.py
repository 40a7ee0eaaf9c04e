"""The small OAuth client `migrate verify` drives a server with, over plain httpx.

It assumes only the legacy-zoo contract: RFC 8414 metadata, RFC 7591 registration, an
auto-approving ``/authorize`` with PKCE S256 that redirects with ``code`` at once, a
form-encoded ``/token`` and MCP over streamable HTTP. Every exchange becomes an
:class:`Answer`, and a transport error is an answer too (with ``error`` set), so a dead or
misbehaving server turns into FAIL lines, never a traceback. Flow steps that cannot go on
raise :class:`FlowError` with a message naming the request and what came back.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote_plus, urlsplit

import httpx

MCP_ACCEPT = "application/json, text/event-stream"
MCP_PROTOCOL_VERSION = "2025-11-25"
SECRET_METHODS = ("client_secret_basic", "client_secret_post")
_BODY_QUOTE = 300  # characters of a response body quoted in a message
_HTML_QUOTE = 80  # an error page says little beyond its title
_HTML_TAG = re.compile(r"<[^>]*>")


def _looks_like_html(content_type: str, text: str) -> bool:
    return "html" in content_type.lower() or text.lstrip()[:15].lower().startswith(
        ("<!doctype html", "<html")
    )


@dataclass(frozen=True)
class Answer:
    """One HTTP exchange as the checks see it: what was sent, what came back, or why not."""

    request: str  # "GET https://..."
    status: int = 0
    headers: Mapping[str, str] = field(default_factory=dict)
    text: str = ""
    error: str | None = None  # set when no HTTP answer came back at all

    def json_object(self) -> dict[str, Any] | None:
        """The body as a JSON object, or None (no answer, not JSON, not an object)."""
        if self.error is not None:
            return None
        try:
            body = json.loads(self.text)
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def describe(self) -> str:
        if self.error is not None:
            return f"{self.request} failed: {self.error}"
        return f"{self.request} -> {self.status}" + (f": {self.quote()}" if self.text else "")

    def quote(self) -> str:
        """The body on one line, cut short; an HTML page is reduced to its text."""
        text = self.text
        limit = _BODY_QUOTE
        if _looks_like_html(self.headers.get("content-type", ""), text):
            text, limit = _HTML_TAG.sub(" ", text), _HTML_QUOTE
        body = " ".join(text.split())
        return body if len(body) <= limit else body[:limit] + "..."


@dataclass(frozen=True)
class Credentials:
    client_id: str
    client_secret: str | None


@dataclass(frozen=True)
class Grant:
    """An access token and how it was obtained."""

    client: Credentials
    access_token: str
    auth_method: str  # the client authentication the token endpoint took
    response: dict[str, Any]


class FlowError(Exception):
    """A step of the authorization flow failed; the message says which and why."""


class RegistrationUnavailable(FlowError):
    """The server does not let this tool register a client (none advertised, or refused)."""


class Http:
    """An httpx client whose every request ends in an :class:`Answer`."""

    def __init__(self, timeout: float) -> None:
        self._client = httpx.Client(timeout=timeout, follow_redirects=False)

    def close(self) -> None:
        self._client.close()

    def send(self, method: str, url: str, **kwargs: Any) -> Answer:
        label = f"{method} {url}"
        try:
            response = self._client.request(method, url, **kwargs)
        except (httpx.HTTPError, httpx.InvalidURL) as problem:
            return Answer(label, error=f"{type(problem).__name__}: {problem}".rstrip(": "))
        headers = {name.lower(): value for name, value in response.headers.items()}
        return Answer(label, response.status_code, headers, response.text)

    def get(self, url: str, headers: Mapping[str, str] | None = None) -> Answer:
        return self.send("GET", url, headers=dict(headers or {}))

    def post_form(
        self, url: str, form: Mapping[str, str], headers: Mapping[str, str] | None = None
    ) -> Answer:
        return self.send("POST", url, data=dict(form), headers=dict(headers or {}))


def basic_authorization(credentials: Credentials) -> dict[str, str]:
    """RFC 6749 §2.3.1: each part form-url-encoded, then Base64 in an HTTP Basic header."""
    pair = f"{quote_plus(credentials.client_id)}:{quote_plus(credentials.client_secret or '')}"
    return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode("ascii")}


def authenticated(
    credentials: Credentials, method: str, form: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """The form and headers that authenticate ``credentials`` with ``method``."""
    if method == "client_secret_basic" and credentials.client_secret is not None:
        return dict(form), basic_authorization(credentials)
    posted = {**form, "client_id": credentials.client_id}
    if credentials.client_secret is not None:
        posted["client_secret"] = credentials.client_secret
    return posted, {}


def post_authenticated(
    http: Http, url: str, credentials: Credentials, form: Mapping[str, str]
) -> tuple[Answer, str]:
    """POST with client_secret_basic, then Basic with ``client_id`` in the form too, then
    client_secret_post, until one is not refused.

    The MCP SDK's token handler (mcp 1.x and 2.x, and fastmcp on it) reads ``client_id``
    from the form even when the secret comes in the Basic header, and refuses the request
    without it; the identifier in the body is not a second authentication method (RFC
    6749 §2.3), so a server that wants it gets it."""
    answer = Answer(f"POST {url}")
    for method, identified in _ATTEMPTS:
        body, headers = authenticated(credentials, method, form)
        if identified:
            body = {**body, "client_id": credentials.client_id}
        answer = http.post_form(url, body, headers)
        if not _client_refused(answer):
            return answer, method
    return answer, SECRET_METHODS[-1]


# (method, client_id also in the form): plain Basic first, as RFC 6749 §2.3.1 describes.
_ATTEMPTS = (
    ("client_secret_basic", False),
    ("client_secret_basic", True),
    ("client_secret_post", False),
)


def _client_refused(answer: Answer) -> bool:
    body = answer.json_object() or {}
    return answer.status == 401 or body.get("error") == "invalid_client"


def unused_redirect_uri() -> str:
    """A loopback callback on a port nothing listens on: the code is read from Location."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/callback"


def register(http: Http, url: str, advertised: bool, redirect_uri: str) -> Credentials:
    """RFC 7591: a confidential client with client_secret_basic (else client_secret_post)."""
    answer = Answer(f"POST {url}")
    for method in SECRET_METHODS:
        answer = http.send("POST", url, json=_client_metadata(method, redirect_uri))
        body = answer.json_object() or {}
        if answer.status in (200, 201) and isinstance(body.get("client_id"), str):
            secret = body.get("client_secret")
            return Credentials(body["client_id"], secret if isinstance(secret, str) else None)
    if answer.status in (401, 403) or not advertised:
        raise RegistrationUnavailable(f"dynamic client registration: {answer.describe()}")
    raise FlowError(f"dynamic client registration: {answer.describe()}")


def _client_metadata(method: str, redirect_uri: str) -> dict[str, Any]:
    return {
        "client_name": "oauth-migrate verify",
        "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": method,
    }


def pkce_pair() -> tuple[str, str]:
    """A fresh (code_verifier, S256 code_challenge) pair (RFC 7636 §4.1, §4.2)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorize(
    http: Http, url: str, client_id: str, redirect_uri: str, extra: dict[str, str]
) -> str:
    """The code from an auto-approving ``/authorize``; ``extra`` holds the PKCE challenge."""
    state = secrets.token_urlsafe(16)
    query = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri}
    answer = http.send("GET", url, params={**query, **extra, "state": state})
    location = answer.header("location") or ""
    params = {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}
    if answer.status not in (301, 302, 303, 307, 308) or not location.startswith(redirect_uri):
        where = f" (Location: {location})" if location else ""
        raise FlowError(f"authorize did not redirect to {redirect_uri}: {answer.describe()}{where}")
    if "code" not in params or params.get("state") != state:
        raise FlowError(f"authorize redirect without code or this state: {location}")
    return params["code"]


def exchange(http: Http, url: str, client: Credentials, form: dict[str, str]) -> Grant:
    """The authorization_code grant; raise FlowError unless a Bearer token came back."""
    answer, method = post_authenticated(http, url, client, form)
    body = answer.json_object() or {}
    token = body.get("access_token")
    if answer.status != 200 or not isinstance(token, str) or not token:
        raise FlowError(f"authorization_code grant: {answer.describe()}")
    return Grant(client, token, method, body)


@dataclass(frozen=True)
class Endpoints:
    """Where the flow goes: from the RFC 8414 metadata, else the contract's paths."""

    registration: str
    registration_advertised: bool
    authorization: str
    token: str

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any], base_url: str) -> Endpoints:
        def endpoint(name: str, path: str) -> str:
            value = metadata.get(name)
            return value if isinstance(value, str) else base_url + path

        return cls(
            registration=endpoint("registration_endpoint", "/register"),
            registration_advertised=isinstance(metadata.get("registration_endpoint"), str),
            authorization=endpoint("authorization_endpoint", "/authorize"),
            token=endpoint("token_endpoint", "/token"),
        )


def obtain_token(http: Http, endpoints: Endpoints, params: Mapping[str, str]) -> Grant:
    """Register a client, authorize with PKCE S256 (``params``: scope, resource), exchange."""
    redirect_uri = unused_redirect_uri()
    client = register(http, endpoints.registration, endpoints.registration_advertised, redirect_uri)
    verifier, challenge = pkce_pair()
    pkce = {"code_challenge": challenge, "code_challenge_method": "S256"}
    code = authorize(
        http, endpoints.authorization, client.client_id, redirect_uri, {**params, **pkce}
    )
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }
    return exchange(http, endpoints.token, client, form)


def exchange_with_wrong_verifier(
    http: Http, endpoints: Endpoints, params: Mapping[str, str]
) -> Answer:
    """The code flow with an S256 challenge, then the token request with another verifier
    (RFC 7636 §4.6): a server that enforces PKCE refuses it (``invalid_grant``)."""
    redirect_uri = unused_redirect_uri()
    client = register(http, endpoints.registration, endpoints.registration_advertised, redirect_uri)
    _, challenge = pkce_pair()
    pkce = {"code_challenge": challenge, "code_challenge_method": "S256"}
    code = authorize(
        http, endpoints.authorization, client.client_id, redirect_uri, {**params, **pkce}
    )
    wrong, _ = pkce_pair()
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": wrong,
    }
    answer, _ = post_authenticated(http, endpoints.token, client, form)
    return answer


def introspect(http: Http, url: str, token: str, caller: Credentials | None) -> Answer:
    """RFC 7662 §2.1 with the caller's credentials (none: an anonymous request)."""
    if caller is None:
        return http.post_form(url, {"token": token})
    return post_authenticated(http, url, caller, {"token": token})[0]


def mcp_initialize(http: Http, url: str, token: str | None) -> Answer:
    """POST an MCP ``initialize`` (with ``token`` as the bearer), ending any session opened."""
    headers = {"Accept": MCP_ACCEPT, "Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    message = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": MCP_PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "oauth-migrate verify", "version": "1"},
        },
    }
    answer = http.send("POST", url, content=json.dumps(message), headers=headers)
    session = answer.header("mcp-session-id")
    if session:
        http.send("DELETE", url, headers={**headers, "Mcp-Session-Id": session})
    return answer
