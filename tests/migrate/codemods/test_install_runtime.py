"""install-runtime: one install call where the legacy code has finished building its app."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from pytest_snapshot.plugin import Snapshot

from migrate.cli import cli
from migrate.planner import plan_hybrid
from tests.migrate.codemods.cases import (
    check_rewrite,
    copy_case,
    manual_in,
    plan_case,
    rewritten,
    second_run,
)

GROUP = "install_runtime"
REWRITES = (
    "starlette_routes_mount",
    "starlette_factory_add_route",
    "fastapi_include_router",
    "fastapi_decorators",
    "flask_factory_blueprint",
    "flask_add_url_rule",
    "flask_main_guard",
    "flask_module_run",
    "factory_returning_wrapper",
    "starlette_factory_returns_app",
)


def test_starlette_routes_list_with_mount(tmp_path: Path, snapshot: Snapshot) -> None:
    """A module-level Starlette app gets the call after its last use, the issuer imported."""
    check_rewrite(snapshot, GROUP, "starlette_routes_mount", tmp_path)


def test_starlette_factory_with_add_route(tmp_path: Path, snapshot: Snapshot) -> None:
    """A factory gets the call before ``return app``; ``request.app.X`` becomes ``app.X``."""
    check_rewrite(snapshot, GROUP, "starlette_factory_add_route", tmp_path)


def test_fastapi_app_including_routers(tmp_path: Path, snapshot: Snapshot) -> None:
    """A FastAPI app gets the call after its ``include_router`` calls."""
    check_rewrite(snapshot, GROUP, "fastapi_include_router", tmp_path)


def test_fastapi_app_used_by_decorators(tmp_path: Path, snapshot: Snapshot) -> None:
    """After the last decorated route, before the ``__main__`` block, with PEP 8 blank lines."""
    check_rewrite(snapshot, GROUP, "fastapi_decorators", tmp_path)


def test_flask_factory_registering_blueprints(tmp_path: Path, snapshot: Snapshot) -> None:
    """A Flask factory gets ``install_flask`` before ``return app``, issuer from its config."""
    check_rewrite(snapshot, GROUP, "flask_factory_blueprint", tmp_path)


def test_flask_app_with_add_url_rule(tmp_path: Path, snapshot: Snapshot) -> None:
    """A module-level Flask app gets the call after ``add_url_rule``, not in ``__main__``."""
    check_rewrite(snapshot, GROUP, "flask_add_url_rule", tmp_path)


def test_flask_app_built_in_main_guard(tmp_path: Path, snapshot: Snapshot) -> None:
    """An app built in ``if __name__ == "__main__":`` gets the call before ``app.run()``."""
    check_rewrite(snapshot, GROUP, "flask_main_guard", tmp_path)


def test_flask_script_running_app_at_module_level(tmp_path: Path, snapshot: Snapshot) -> None:
    """A module-level ``app.run()`` ends the search: the call goes before it, never after."""
    check_rewrite(snapshot, GROUP, "flask_module_run", tmp_path)


def test_factory_returning_a_wrapped_app(tmp_path: Path, snapshot: Snapshot) -> None:
    """A factory ending in ``return ProxyFix(app)`` gets the call before the return."""
    check_rewrite(snapshot, GROUP, "factory_returning_wrapper", tmp_path)


def test_factory_returning_the_app_it_builds(tmp_path: Path, snapshot: Snapshot) -> None:
    """#12 item 5: ``return Starlette(...)`` is bound first (``app = ...``), installed on,
    and returned by name: the same object, and the install runs before the server gets it."""
    check_rewrite(snapshot, GROUP, "starlette_factory_returns_app", tmp_path)


def test_app_built_in_a_branch_is_manual(tmp_path: Path) -> None:
    """An app built in ``if``/``else`` branches is not installed into; a step asks for it."""
    plan = plan_case(GROUP, "app_in_branch", tmp_path)
    assert rewritten(plan) == {}
    assert [m.expected for m in plan.manual if "app object" in m.expected] == [
        "exactly one Starlette, FastAPI or Flask app object; found 0"
    ]


def test_two_apps_are_manual(tmp_path: Path) -> None:
    """With two candidate apps nothing is installed, and the step names both."""
    plan = plan_case(GROUP, "two_apps", tmp_path)
    assert rewritten(plan) == {}
    assert [m.where for m in plan.manual if "app object" in m.expected] == [
        "admin.py:3, public.py:12"
    ]


def test_of_two_apps_the_one_serving_mcp_gets_the_runtime(
    tmp_path: Path, snapshot: Snapshot
) -> None:
    """#12: the app whose route answers MCP's JSON-RPC is the server's; the plan says why."""
    plan = check_rewrite(snapshot, GROUP, "two_apps_one_serves_mcp", tmp_path)
    assert list(rewritten(plan)) == ["server.py"]
    assert not [m for m in plan.manual if "app object" in m.expected]
    assert any(
        n.startswith("App: `api` (server.py:") and "metrics_app.py:" in n for n in plan.notes
    )


def test_issuer_known_only_per_request_is_manual(tmp_path: Path) -> None:
    """An issuer read from the request cannot be given at install time: a manual step."""
    plan = plan_case(GROUP, "issuer_from_request", tmp_path)
    assert rewritten(plan) == {}
    assert [m.where for m in manual_in(plan, "app.py")] == ["app.py:11"]


@pytest.mark.parametrize("case", REWRITES)
def test_second_run_changes_nothing(case: str, tmp_path: Path) -> None:
    """Planning install-runtime again on its own output changes nothing."""
    assert rewritten(second_run(GROUP, case, tmp_path)) == {}


UNSUPPORTED = {
    "unsupported_aiohttp": ("aiohttp", "server.py:33"),
    "unsupported_django": ("Django", "portal/wsgi.py:7"),
    "unsupported_azure_functions": ("Azure Functions", "function_app.py:9"),
    "unsupported_plain_asgi": ("a plain ASGI callable", "service.py:20"),
}


@pytest.mark.parametrize("case", sorted(UNSUPPORTED))
def test_an_unsupported_framework_is_one_blocking_step(case: str, tmp_path: Path) -> None:
    """#12 item 5: the app of a framework without an adapter is one blocking step naming it
    at the line that makes the app, and nothing is installed."""
    framework, where = UNSUPPORTED[case]
    plan = plan_case(GROUP, case, tmp_path)
    assert rewritten(plan) == {}
    install = [m for m in plan.manual if "install the runtime on" in m.expected]
    assert [(m.where, m.blocks_apply) for m in install] == [(where, True)]
    assert f"found {framework}, which the kit does not support" in install[0].expected
    assert plan.blocked_by == [install[0].blocker]


@pytest.mark.parametrize("case", sorted(UNSUPPORTED))
def test_apply_on_an_unsupported_framework_writes_nothing(case: str, tmp_path: Path) -> None:
    """`migrate apply` exits 6 on such a tree and leaves every file as it was."""
    root = copy_case(GROUP, case, tmp_path / "server")
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    result = CliRunner().invoke(cli, ["apply", str(root), "--yes", "--allow-dirty"])
    assert result.exit_code == 6, result.output
    assert UNSUPPORTED[case][0] in result.output
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before


def test_an_install_made_by_hand_where_the_factory_is_called_is_kept(tmp_path: Path) -> None:
    """#12 item 5: the install call a user wrote beside ``app = create_app()`` counts: no
    second install in the factory and no step asking for one (the no-op case)."""
    plan = plan_case(GROUP, "noop_installed_by_hand_where_the_factory_is_called", tmp_path)
    assert rewritten(plan) == {}
    assert not [m for m in plan.manual if "install" in m.how_to]


def _two_rpc_routes(root: Path, first: str, second: str) -> Path:
    rpc = (
        "async def rpc(request):\n    message = await request.json()\n"
        "    if message['method'] == 'initialize':\n"
        "        return JSONResponse({'jsonrpc': '2.0', 'result': {}})\n"
    )
    meta = (
        "async def metadata(request):\n"
        "    return JSONResponse({'issuer': ISSUER, 'token_endpoint': ISSUER + '/token'})\n"
    )
    (root / "server.py").write_text(
        "from starlette.applications import Starlette\n"
        "from starlette.responses import JSONResponse\n"
        "from starlette.routing import Route\n\nISSUER = 'https://x.example.test'\n\n"
        f"{rpc}\n\n{meta}\n\napp = Starlette(routes=[Route('/.well-known/oauth-authorization-"
        f"server', metadata), Route('{first}', rpc), Route('{second}', rpc)])\n",
        encoding="utf-8",
    )
    return root


def test_an_mcp_path_covering_the_other_is_the_one(tmp_path: Path) -> None:
    """MCP at ``/mcp`` and ``/mcp/messages``: ``/mcp`` covers both, nothing blocks."""
    plan = plan_hybrid(_two_rpc_routes(tmp_path, "/mcp/messages", "/mcp"), skip=("requirements",))
    assert [f.detail for f in plan.findings if f.kind == "mcp"] == ["MCP endpoint at /mcp"]
    assert plan.blocked_by == []


def test_two_unrelated_mcp_paths_block(tmp_path: Path) -> None:
    """MCP at ``/a/mcp`` and ``/b/mcp``: the runtime guards one path, so a blocking step."""
    plan = plan_hybrid(_two_rpc_routes(tmp_path, "/a/mcp", "/b/mcp"))
    assert [b for b in plan.blocked_by if "one MCP endpoint" in b] == [
        "server.py:17: one MCP endpoint on the app (the runtime protects one path); "
        "found /a/mcp (server.py:17), /b/mcp (server.py:17)"
    ]
