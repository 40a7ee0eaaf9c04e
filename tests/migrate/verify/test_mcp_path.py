"""`migrate verify --mcp-path` against a migrated server whose MCP endpoint is not /mcp."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from migrate.apply import apply_plan
from migrate.planner import plan_hybrid
from tests.migrate.e2e_support import FIXTURE_SERVERS, copy_tree
from tests.migrate.verify.support import failing, run_verify, verdicts
from tests.support.server_process import ServerProcess, command_from_start_file

MOUNTED = "starlette_factory_mount"  # its README: MCP endpoint at /api/mcp, under a Mount


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The fixture server whose MCP route sits in ``Mount("/api", ...)``, migrated."""
    workdir = tmp_path_factory.mktemp("mounted")
    project = copy_tree(FIXTURE_SERVERS / MOUNTED, workdir / "project")
    apply_plan(plan_hybrid(project), project)
    start = command_from_start_file(project / "START")
    env = {"LANTERN_SHELF": str(workdir / "shelf"), "HOST": None}
    with ServerProcess(start, cwd=project, log_dir=workdir, env=env) as running:
        yield running


def test_every_check_passes_at_the_given_mcp_path(server: ServerProcess) -> None:
    """With --mcp-path /api/mcp every check passes: PRM, challenge, audience, token use."""
    result = run_verify(server.base_url, "--mcp-path", "/api/mcp")
    statuses = {check_id: status for check_id, (status, _) in verdicts(result.output).items()}
    assert result.exit_code == 0, result.output
    assert set(statuses.values()) == {"PASS"}, result.output


def test_the_default_path_is_not_this_servers_endpoint(server: ServerProcess) -> None:
    """Without --mcp-path verify probes /mcp, which this server does not serve: FAIL, exit 8."""
    result = run_verify(server.base_url)
    assert result.exit_code == 8, result.output
    assert {"challenge", "prm"} & failing(result.output), result.output


def test_the_path_may_be_given_without_its_slash(server: ServerProcess) -> None:
    """``--mcp-path api/mcp`` is the same path."""
    result = run_verify(server.base_url, "--mcp-path", "api/mcp/")
    assert result.exit_code == 0, result.output


def test_the_plan_names_the_mcp_endpoint(tmp_path: Path) -> None:
    """The plan's `mcp` finding gives the path verify should be told, at the route's line."""
    project = copy_tree(FIXTURE_SERVERS / MOUNTED, tmp_path / "project")
    found = [f for f in plan_hybrid(project).findings if f.kind == "mcp"]
    assert [(f.where, f.detail) for f in found] == [
        ("lantern/factory.py:12", "MCP endpoint at /api/mcp")
    ]
