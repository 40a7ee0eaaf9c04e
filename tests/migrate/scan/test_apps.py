"""find_apps and resolve_issuer: the app object, where it is complete, the issuer there."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrate.scan.apps import AppSite, find_apps, resolve_issuer
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
