"""The MCP endpoint's path, read from the routes and mounts that reach the app (#12 item 6).

Each tree is written inline: a handler that answers MCP's JSON-RPC, declared in one of the
ways real servers declare routes. The path is never taken from its spelling: a route at
``/mcp`` whose handler does not speak MCP is not the MCP endpoint.
"""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from migrate.scan.apps import AppSite, find_apps
from migrate.scan.routes import join
from migrate.scan.source import SourceTree

# A JSON-RPC handler as hand-written MCP servers have it (Starlette/FastAPI, then Flask).
RPC = """
async def rpc(request):
    message = await request.json()
    if message["method"] == "initialize":
        return {"jsonrpc": "2.0", "id": message["id"], "result": {}}
    if message["method"] == "tools/list":
        return {"jsonrpc": "2.0", "id": message["id"], "result": {"tools": []}}
"""
FLASK_RPC = RPC.replace("async def", "def").replace("await request.json()", "request.json")

TREES: dict[str, dict[str, str]] = {
    "starlette_mount_of_a_list_in_another_module": {
        "svc/__init__.py": "",
        "svc/api.py": f"from starlette.routing import Route\n{RPC}\nAPI = [Route('/mcp', rpc)]\n",
        "svc/factory.py": """
            from starlette.applications import Starlette
            from starlette.routing import Mount
            from .api import API

            def create_app():
                app = Starlette(routes=[Mount("/api", routes=API)])
                return app
            """,
    },
    "fastapi_mounts_the_sdk_app": {
        "server.py": """
            from fastapi import FastAPI
            from mcp.server.fastmcp import FastMCP

            tools = FastMCP("tools")
            app = FastAPI()
            app.mount("/mcp", tools.streamable_http_app())
            """,
    },
    "sdk_app_with_its_own_path_at_the_root": {
        "server.py": """
            from starlette.applications import Starlette
            from starlette.routing import Mount
            from mcp.server.fastmcp import FastMCP

            tools = FastMCP("tools", streamable_http_path="/agent")
            app = Starlette(routes=[Mount("/", app=tools.streamable_http_app())])
            """,
    },
    "sdk_app_given_its_path_on_the_call": {
        "server.py": """
            from starlette.applications import Starlette
            from starlette.routing import Mount
            from mcp.server.mcpserver import MCPServer

            tools = MCPServer("tools")
            inner = tools.streamable_http_app(streamable_http_path="/api")
            app = Starlette(routes=[Mount("/", app=inner)])
            """,
    },
    "decorated_sse_route": {
        "server.py": f"""
            from fastapi import FastAPI

            app = FastAPI()

            @app.post("/sse")
            {RPC.strip().replace(chr(10), chr(10) + " " * 12)}
            """,
    },
    "flask_add_url_rule_with_a_method_view": {
        "server.py": """
            from flask import Flask, request
            from flask.views import MethodView

            class Rpc(MethodView):
                def post(self):
                    message = request.json
                    if message["method"] == "initialize":
                        return {"jsonrpc": "2.0", "result": {}}

            app = Flask(__name__)
            app.add_url_rule("/rpc", view_func=Rpc.as_view("rpc"))
            """,
    },
    "router_prefix_under_an_include_prefix": {
        "api/__init__.py": "",
        "api/mcp.py": f"from fastapi import APIRouter\nrouter = APIRouter(prefix='/v1')\n"
        f"@router.post('/mcp'){RPC}",
        "api/main.py": """
            from fastapi import FastAPI
            from . import mcp

            app = FastAPI()
            app.include_router(mcp.router, prefix="/api")
            """,
    },
    "blueprint_prefix_replaced_at_registration": {
        "notes/__init__.py": """
            from flask import Flask
            from .rpc import bp

            def create_app():
                app = Flask(__name__)
                app.register_blueprint(bp, url_prefix="/agent")
                return app
            """,
        "notes/rpc.py": f"from flask import Blueprint, request\n"
        f"bp = Blueprint('rpc', __name__, url_prefix='/old')\n@bp.post('/mcp'){FLASK_RPC}",
    },
    "routes_added_by_a_function_given_the_app": {
        "svc/__init__.py": """
            from flask import Flask
            from .routes import register

            def make_app():
                app = Flask(__name__)
                register(app)
                return app
            """,
        "svc/routes.py": f"from flask import request\n{FLASK_RPC}\n"
        "def register(target):\n    target.add_url_rule('/tools', 'rpc', rpc, methods=['POST'])\n",
    },
    "dispatcher_in_another_module": {
        "srv/__init__.py": "",
        "srv/dispatch.py": RPC.replace("async def rpc(request)", "def handle(message)").replace(
            "    message = await request.json()\n", ""
        ),
        "srv/app.py": """
            from starlette.applications import Starlette
            from starlette.routing import Route
            from .dispatch import handle

            async def endpoint(request):
                return handle(await request.json())

            app = Starlette(routes=[Route("/v2/mcp", endpoint, methods=["POST"])])
            """,
    },
    "route_added_where_the_factory_is_called": {
        "svc/__init__.py": "",
        "svc/factory.py": """
            from flask import Flask

            def create_app():
                app = Flask(__name__)
                return app
            """,
        "wsgi.py": f"""
            from flask import request
            from svc.factory import create_app
            {FLASK_RPC.strip().replace(chr(10), chr(10) + " " * 12)}

            app = create_app()
            app.add_url_rule("/rpc", view_func=rpc, methods=["POST"])
            """,
    },
}
EXPECTED = {
    "starlette_mount_of_a_list_in_another_module": ["/api/mcp"],
    "fastapi_mounts_the_sdk_app": ["/mcp/mcp"],
    "sdk_app_with_its_own_path_at_the_root": ["/agent"],
    "sdk_app_given_its_path_on_the_call": ["/api"],
    "decorated_sse_route": ["/sse"],
    "flask_add_url_rule_with_a_method_view": ["/rpc"],
    "router_prefix_under_an_include_prefix": ["/api/v1/mcp"],
    "blueprint_prefix_replaced_at_registration": ["/agent/mcp"],
    "routes_added_by_a_function_given_the_app": ["/tools"],
    "dispatcher_in_another_module": ["/v2/mcp"],
    "route_added_where_the_factory_is_called": ["/rpc"],
}


def write_tree(root: Path, files: dict[str, str]) -> SourceTree:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(text).lstrip("\n"), encoding="utf-8")
    return SourceTree(root)


def only_app(tree: SourceTree) -> AppSite:
    apps = find_apps(tree)
    assert len(apps) == 1, [a.where for a in apps]
    return apps[0]


@pytest.mark.parametrize("case", sorted(TREES))
def test_mcp_path_is_read_from_the_routes(case: str, tmp_path: Path) -> None:
    """The MCP endpoint's full path: mounts, prefixes and the SDK app's own path joined."""
    app = only_app(write_tree(tmp_path, TREES[case]))
    assert [route.path for route in app.mcp] == EXPECTED[case]


def test_a_route_spelled_mcp_that_does_not_speak_mcp_is_not_the_endpoint(tmp_path: Path) -> None:
    """A docs page at /mcp is no MCP endpoint; the JSON-RPC handler at /rpc is."""
    files = {
        "server.py": f"""
            from starlette.applications import Starlette
            from starlette.responses import HTMLResponse
            from starlette.routing import Route
            {RPC.strip().replace(chr(10), chr(10) + " " * 12)}

            async def docs(request):
                return HTMLResponse("<h1>How to connect</h1>")

            app = Starlette(routes=[Route("/mcp", docs), Route("/rpc", rpc, methods=["POST"])])
            """
    }
    app = only_app(write_tree(tmp_path, files))
    assert [route.path for route in app.mcp] == ["/rpc"]


def test_a_handler_beside_the_app_object_is_not_taken_for_mcp(tmp_path: Path) -> None:
    """A token handler in the module that builds the app (and reads ``request.app``) does
    not reach the MCP handler through the app's own route list."""
    files = {
        "server.py": f"""
            from starlette.applications import Starlette
            from starlette.routing import Route
            {RPC.strip().replace(chr(10), chr(10) + " " * 12)}

            async def token(request):
                return {{"access_token": request.app.state.mint(), "app": app.title}}

            ROUTES = [Route("/token", token), Route("/mcp", rpc, methods=["POST"])]
            app = Starlette(routes=ROUTES)
            """
    }
    app = only_app(write_tree(tmp_path, files))
    assert [route.path for route in app.mcp] == ["/mcp"]


def test_an_app_without_an_mcp_handler_serves_no_mcp(tmp_path: Path) -> None:
    """Routes whose handlers never answer JSON-RPC give no MCP endpoint at all."""
    files = {
        "metrics.py": """
            from starlette.applications import Starlette
            from starlette.routing import Route

            async def scrape(request):
                return "up 1"

            app = Starlette(routes=[Route("/mcp", scrape)])
            """
    }
    assert only_app(write_tree(tmp_path, files)).mcp == []


def test_the_route_is_named_where_it_is_declared(tmp_path: Path) -> None:
    """The MCP route's file:line is the Route() in the list, not the app that mounts it."""
    app = only_app(write_tree(tmp_path, TREES["starlette_mount_of_a_list_in_another_module"]))
    assert [route.where for route in app.mcp] == ["svc/api.py:10"]


@pytest.mark.parametrize(
    ("prefix", "path", "joined"),
    [("", "/mcp", "/mcp"), ("/api", "/mcp/", "/api/mcp"), ("/mcp", "/", "/mcp"), ("", "", "/")],
)
def test_join(prefix: str, path: str, joined: str) -> None:
    """Prefix and path join with one slash; an empty path is the prefix itself."""
    assert join(prefix, path) == joined
