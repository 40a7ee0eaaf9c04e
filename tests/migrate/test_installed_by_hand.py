"""#12 item 5: the install step done by hand, where the factory's app is bound, unblocks apply.

A copy of the fixture server whose app a factory in another module makes, with its
metadata's issuer read per request (so the plan cannot place the install call itself and
asks for it), then with the call written by hand in ``__main__.py``: the plan is no longer
blocked, adds no second install, and the applied server passes `migrate verify`.
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from migrate.cli import cli
from migrate.planner import plan_hybrid
from tests.migrate.e2e_support import FIXTURE_SERVERS, copy_tree
from tests.migrate.verify.support import run_verify, verdicts
from tests.support.server_process import ServerProcess, command_from_start_file

PER_REQUEST = 'base = str(request.base_url).rstrip("/")'
BY_HAND = (
    "\nfrom lantern.oauth_migration.wiring import migration as oauth_migration  # noqa: E402\n"
    "\noauth_migration.install_starlette(application, issuer=settings.base_url)\n"
)


def issuer_per_request(root: Path) -> Path:
    project = copy_tree(FIXTURE_SERVERS / "starlette_factory_mount", root)
    oauth = project / "lantern" / "oauth.py"
    text = oauth.read_text(encoding="utf-8")
    assert "base = request.app.state.settings.base_url" in text
    oauth.write_text(text.replace("base = request.app.state.settings.base_url", PER_REQUEST))
    return project


def install_by_hand(project: Path) -> None:
    main = project / "lantern" / "__main__.py"
    text = main.read_text(encoding="utf-8")
    anchor = "application = build_app(settings)\n"
    main.write_text(text.replace(anchor, anchor + BY_HAND), encoding="utf-8")


def test_an_issuer_read_per_request_blocks_apply(tmp_path: Path) -> None:
    """Without the call, the plan asks for it at the factory's app and is blocked."""
    plan = plan_hybrid(issuer_per_request(tmp_path / "server"))
    assert [b for b in plan.blocked_by if "issuer expression" in b] == [
        "lantern/factory.py:18: an issuer expression that can be evaluated where the app is built"
    ]


def test_the_call_written_by_hand_unblocks_apply(tmp_path: Path) -> None:
    """With the call beside ``application = build_app(settings)``: no blocker, no second
    install, apply exits 0 and the server passes every check of `migrate verify`."""
    project = issuer_per_request(tmp_path / "server")
    install_by_hand(project)
    plan = plan_hybrid(project)
    assert plan.blocked_by == []
    assert "install-runtime" not in [step.id for step in plan.steps]
    result = CliRunner().invoke(cli, ["apply", str(project), "--yes", "--allow-dirty"])
    assert result.exit_code == 0, result.output
    main = (project / "lantern" / "__main__.py").read_text(encoding="utf-8")
    assert main.count("install_starlette(") == 1
    start = command_from_start_file(project / "START")
    env = {"LANTERN_SHELF": str(tmp_path / "shelf"), "HOST": None}
    with ServerProcess(start, cwd=project, log_dir=tmp_path, env=env) as server:
        checked = run_verify(server.base_url, "--mcp-path", "/api/mcp")
    statuses = {status for status, _ in verdicts(checked.output).values()}
    assert checked.exit_code == 0 and statuses == {"PASS"}, checked.output
