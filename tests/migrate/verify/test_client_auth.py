"""How verify's client authenticates at a token or introspection endpoint (RFC 6749 §2.3),
against real token endpoints served by uvicorn."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from migrate.verify.client import Credentials, Http, post_authenticated
from tests.support.inproc_server import serve_asgi

CLIENT = Credentials("client-1", "s3cret")
Rule = Callable[[str | None, dict[str, str]], bool]


def _basic_ok(header: str | None) -> bool:
    expected = base64.b64encode(b"client-1:s3cret").decode("ascii")
    return header == f"Basic {expected}"


def basic_only(header: str | None, form: dict[str, str]) -> bool:
    """A server that takes the Basic header and nothing else identifying the client."""
    return _basic_ok(header) and "client_id" not in form


def basic_with_client_id(header: str | None, form: dict[str, str]) -> bool:
    """The MCP SDK's token handler: Basic, and client_id in the form as well."""
    return _basic_ok(header) and form.get("client_id") == "client-1"


def post_only(header: str | None, form: dict[str, str]) -> bool:
    return header is None and form.get("client_secret") == "s3cret"


def _app(rule: Rule, seen: list[tuple[str | None, dict[str, str]]]) -> Starlette:
    async def token(request: Request) -> JSONResponse:
        form = {k: str(v) for k, v in (await request.form()).items()}
        header = request.headers.get("authorization")
        seen.append((header, form))
        if not rule(header, form):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        return JSONResponse({"access_token": "t", "token_type": "Bearer"})

    return Starlette(routes=[Route("/token", token, methods=["POST"])])


@pytest.fixture
def attempts() -> Iterator[Callable[[Rule], tuple[int, str, int]]]:
    """Run post_authenticated against a server following ``rule``: (status, method, tries)."""

    def run(rule: Rule) -> tuple[int, str, int]:
        seen: list[tuple[str | None, dict[str, str]]] = []
        with serve_asgi(_app(rule, seen)) as base_url:
            http = Http(5.0)
            try:
                answer, method = post_authenticated(http, base_url + "/token", CLIENT, {})
            finally:
                http.close()
        return answer.status, method, len(seen)

    yield run


def test_plain_basic_is_tried_first(attempts: Callable[[Rule], tuple[int, str, int]]) -> None:
    """A server that takes Basic alone gets one request, without client_id in the form."""
    assert attempts(basic_only) == (200, "client_secret_basic", 1)


def test_basic_with_client_id_in_the_form(
    attempts: Callable[[Rule], tuple[int, str, int]],
) -> None:
    """A server that wants client_id beside the Basic header (the MCP SDK) gets it next."""
    assert attempts(basic_with_client_id) == (200, "client_secret_basic", 2)


def test_client_secret_post_last(attempts: Callable[[Rule], tuple[int, str, int]]) -> None:
    """A server that takes only client_secret_post is reached on the third try."""
    assert attempts(post_only) == (200, "client_secret_post", 3)


def test_refused_every_way(attempts: Callable[[Rule], tuple[int, str, int]]) -> None:
    """A server that refuses every way answers 401, reported as client_secret_post."""
    assert attempts(lambda header, form: False) == (401, "client_secret_post", 3)
