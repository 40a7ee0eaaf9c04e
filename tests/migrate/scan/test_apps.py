"""find_apps and resolve_issuer: the app object, where it is complete, the issuer there."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrate.scan.apps import AppSite, find_apps, find_unsupported_apps, resolve_issuer
from migrate.scan.metadata import find_metadata
from migrate.scan.source import SourceTree
from tests.migrate.codemods.cases import code, source_tree

GROUP = "install_runtime"


def _app(tree: SourceTree) -> AppSite:
    apps = find_apps(tree)
    assert len(apps) == 1
    return apps[0]


@pytest.mark.parametrize(
    ("case", "framework", "where", "anchor", "before"),
    [
        (
            "starlette_routes_mount",
            "starlette",
            "server.py:10",
            'app.add_middleware(CORSMiddleware, allow_origins=["*"])',
            False,
        ),
        ("starlette_factory_add_route", "starlette", "server/app.py:9", "return app", True),
        (
            "fastapi_include_router",
            "fastapi",
            "tickets/main.py:5",
            'app.include_router(mcp.router, prefix="/mcp")',
            False,
        ),
        ("fastapi_decorators", "fastapi", "service.py:8", "async def mcp_endpoint", False),
        ("flask_factory_blueprint", "flask", "notes/__init__.py:9", "return app", True),
        ("flask_add_url_rule", "flask", "app.py:5", "app.add_url_rule(", False),
        ("flask_main_guard", "flask", "serve.py:12", "app.add_url_rule(", False),
        ("flask_module_run", "flask", "server.py:7", "def metadata", False),
        ("factory_returning_wrapper", "flask", "relay/__init__.py:11", "return ProxyFix", True),
    ],
)
def test_app_and_where_it_is_complete(
    case: str, framework: str, where: str, anchor: str, before: bool, tmp_path: Path
) -> None:
    """The app is found with its framework; the anchor is its last use before it is served."""
    app = _app(source_tree(GROUP, case, tmp_path))
    assert (app.framework, app.where, app.before, app.migrated) == (framework, where, before, False)
    assert anchor in code(app.anchor)


def test_app_built_in_branches_is_not_a_candidate(tmp_path: Path) -> None:
    """Apps built in ``if``/``else`` branches are not taken for the app the server runs."""
    assert find_apps(source_tree(GROUP, "app_in_branch", tmp_path)) == []


def test_every_app_is_reported(tmp_path: Path) -> None:
    """Two apps in a tree are both reported, so the planner can refuse to pick one."""
    apps = find_apps(source_tree(GROUP, "two_apps", tmp_path))
    assert sorted(a.where for a in apps) == ["admin.py:3", "public.py:12"]


@pytest.mark.parametrize(
    ("case", "issuer", "imports"),
    [
        ("starlette_routes_mount", "ISSUER", [("oauth", "ISSUER")]),
        ("starlette_factory_add_route", "app.state.config.issuer", []),
        ("fastapi_include_router", "settings.base_url", [("tickets.oauth", "settings")]),
        ("flask_factory_blueprint", 'app.config["PUBLIC_URL"]', []),
        ("fastapi_decorators", "BASE_URL", []),
    ],
)
def test_issuer_is_followed_to_the_app(
    case: str, issuer: str, imports: list[tuple[str, str]], tmp_path: Path
) -> None:
    """The metadata's issuer becomes an expression valid beside the app, imports included."""
    tree = source_tree(GROUP, case, tmp_path)
    producers, _ = find_metadata(tree)
    resolved = resolve_issuer(tree, producers[0], _app(tree))
    assert resolved is not None
    assert (code(resolved.expression), resolved.imports) == (issuer, imports)


def test_issuer_read_per_request_cannot_be_followed(tmp_path: Path) -> None:
    """An issuer built from the request has no value where the app is built."""
    tree = source_tree(GROUP, "issuer_from_request", tmp_path)
    producers, _ = find_metadata(tree)
    assert resolve_issuer(tree, producers[0], _app(tree)) is None


@pytest.mark.parametrize("case", ["flask_main_guard", "starlette_factory_add_route"])
def test_installed_app_is_migrated(case: str, tmp_path: Path) -> None:
    """After the codemod the app is found again as migrated."""
    assert _app(source_tree(GROUP, case, tmp_path, applied=True)).migrated


def _write(root: Path, files: dict[str, str]) -> SourceTree:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return SourceTree(root)


def test_clients_and_middleware_classes_are_no_unsupported_app(tmp_path: Path) -> None:
    """An aiohttp client, a Django import and an ASGI middleware class nobody instantiates
    at module level make no app: only what serves requests counts."""
    tree = _write(
        tmp_path,
        {
            "billing.py": "import aiohttp\n\nasync def charge():\n"
            "    async with aiohttp.ClientSession() as s:\n        return await s.get('x')\n",
            "orm.py": "from django.db import models\n",
            "gate.py": "class Gate:\n    def __init__(self, app):\n        self.app = app\n\n"
            "    async def __call__(self, scope, receive, send):\n"
            "        await self.app(scope, receive, send)\n",
        },
    )
    assert find_unsupported_apps(tree) == []


def test_an_asgi_wrapper_instance_and_a_callable_are_named(tmp_path: Path) -> None:
    """A module-level instance of an ASGI class, and an ``async def (scope, receive, send)``,
    are plain ASGI apps, each at its line."""
    gate = "class Gate:\n    async def __call__(self, scope, receive, send):\n        pass\n\n"
    tree = _write(
        tmp_path,
        {
            "a.py": gate + "application = Gate()\n",
            "b.py": "async def app(scope, receive, send):\n    pass\n",
        },
    )
    found = sorted((u.where, u.framework) for u in find_unsupported_apps(tree))
    assert found == [("a.py:5", "a plain ASGI callable"), ("b.py:1", "a plain ASGI callable")]


def test_a_factory_imported_elsewhere_is_followed_there(tmp_path: Path) -> None:
    """``app = create_app()`` in another module is where the factory's app is also used."""
    tree = _write(
        tmp_path,
        {
            "svc/__init__.py": "",
            "svc/factory.py": "from flask import Flask\n\ndef create_app():\n"
            "    app = Flask(__name__)\n    return app\n",
            "wsgi.py": "from svc.factory import create_app\n\napplication = create_app()\n",
        },
    )
    uses = [(u.source.rel, u.variable) for u in _app(tree).uses]
    assert uses == [("svc/factory.py", "app"), ("wsgi.py", "application")]
