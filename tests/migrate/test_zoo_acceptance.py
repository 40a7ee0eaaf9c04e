"""The legacy zoo (and our fixture servers in other styles) through the kit, judged by the
shared acceptance harness.

For every server folder in ``shared/legacy_zoo`` (beside the repository), a module-scoped
fixture copies it into a temporary folder, starts it from its START command, runs the
harness in the legacy phase (saving a grant), stops it, runs ``migrate plan`` and
``migrate apply --yes --allow-dirty`` with no hand edits, starts it again on the same store
and port, and runs the harness in the hybrid phase with the saved grant; then stops it,
runs ``migrate finalize`` (the hybrid server's metrics decide; ``OAUTH_MIGRATE_NOW`` moves
the clock past the opaque tokens' lifetime), starts it again and runs the harness in the
final phase with a second grant saved before the migration and never refreshed.
"""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.migrate.e2e_support import (
    SHARED_DIR,
    CommandResult,
    Migration,
    clean_env,
    copy_tree,
    failed_checks,
    harness_script,
    migrate_to_hybrid,
    read_json,
    run_command,
    run_harness,
)
from tests.support.sdk_venvs import SdkVenvUnavailable, sdk_python
from tests.support.server_process import ServerProcess, command_from_start_file

ZOO_DIR = SHARED_DIR / "legacy_zoo"
# The harness checks that use the grant saved before the migration (README, "Legacy tokens").
LEGACY_GRANT_CHECKS = ("hybrid.legacy_access", "introspect.legacy_opaque", "hybrid.legacy_refresh")


# Our own fixture servers in other styles, judged the same way (the harness is shared too).
FIXTURE_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "servers"
FIXTURES_JUDGED = (
    "fastapi_router",
    "flask_blueprint",
    "fastapi_asyncrepo",
    "flask_methodview",
    "fastapi_pydantic_helper",
    "fastapi_depends_db",
    "starlette_factory_mount",
    "flask_factory_prefix",
    "starlette_sealed",
)


# Servers whose authorization server is the MCP SDK's provider interface or FastMCP's
# OAuthProvider run in a venv of their own requirements (mcp 1.x and 2.x cannot share one):
# tests/support/sdk_venvs.py. Which servers those are is the test's business, read from
# their text; the kit recognises them by its own finders.
_SDK_PROVIDER = re.compile(
    r"OAuthAuthorizationServerProvider|auth_server_provider\s*=|OAuthProvider\b"
)


def is_sdk_provider_server(folder: Path) -> bool:
    return any(
        _SDK_PROVIDER.search(path.read_text(encoding="utf-8", errors="replace"))
        for path in folder.rglob("*.py")
    )


def _zoo_folders() -> list[Path]:
    if not ZOO_DIR.is_dir():
        return []
    return sorted(f for f in ZOO_DIR.iterdir() if (f / "START").is_file())


def _zoo_servers() -> list[str]:
    found = [f"fixture:{name}" for name in FIXTURES_JUDGED]
    found += [f.name for f in _zoo_folders()]
    return found


def _server_folder(name: str) -> Path:
    fixture = name.removeprefix("fixture:")
    return FIXTURE_DIR / fixture if fixture != name else ZOO_DIR / name


def store_kind(server_folder: Path) -> str:
    """``persistent`` if the server's README says its store survives restarts, else ``memory``."""
    readme = server_folder / "README.md"
    text = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    return "persistent" if re.search(r"store:\s*persistent", text, re.IGNORECASE) else "memory"


def mcp_path(server_folder: Path) -> str:
    """The MCP endpoint's path its README gives (``MCP endpoint: `/api/mcp```), else the
    contract's ``/mcp``: the harness is told it with ``--mcp-path``."""
    readme = server_folder / "README.md"
    text = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    found = re.search(r"MCP endpoint:\s*`(/[^`\s]*)`", text)
    return found.group(1) if found else "/mcp"


@dataclass
class ZooRun:
    name: str
    store: str
    legacy_run: CommandResult
    legacy_report: dict[str, Any]
    migration: Migration
    hybrid_run: CommandResult
    hybrid_report: dict[str, Any]
    finalize_run: CommandResult
    final_run: CommandResult
    final_report: dict[str, Any]
    server_log: str


ZOO_SERVERS = _zoo_servers()
ZOO_PARAMS: list[Any] = [*ZOO_SERVERS] or [pytest.param("", id="no-zoo")]


@pytest.fixture(scope="module", params=ZOO_PARAMS)
def zoo_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> ZooRun:
    """One zoo server taken from legacy to hybrid, with both harness reports."""
    name: str = request.param
    if not name:
        pytest.skip(f"no legacy zoo at {ZOO_DIR} (the shared folder beside the repository)")
    folder = _server_folder(name)
    name = folder.name
    if not harness_script().is_file():
        pytest.skip(f"no acceptance harness at {harness_script()}")
    workdir = tmp_path_factory.mktemp(f"zoo-{name}")
    root = copy_tree(folder, workdir / name)
    store = store_kind(root)
    path = ("--mcp-path", mcp_path(root))
    tokens_file = workdir / "legacy-tokens.json"
    final_tokens = workdir / "legacy-tokens-final.json"
    legacy_json = workdir / "legacy.json"
    hybrid_json = workdir / "hybrid.json"
    final_json = workdir / "final.json"
    command = command_from_start_file(root / "START")
    if is_sdk_provider_server(root) and command[0] == sys.executable:
        command[0] = str(_own_python(root))
    server = ServerProcess(command, cwd=root, log_dir=workdir)
    try:
        server.start()
        legacy_run = run_harness(
            *path,
            "--base-url",
            server.base_url,
            "--phase",
            "legacy",
            "--save-tokens",
            str(tokens_file),
            "--store",
            store,
            "--json",
            str(legacy_json),
            cwd=workdir,
        )
        # A second grant, never refreshed, for the final phase (harness README, "Run").
        run_harness(
            *path, "--base-url", server.base_url, "--phase", "legacy", "--save-tokens",
            str(final_tokens), "--store", store, cwd=workdir,
        )  # fmt: skip
        server.stop()
        assert tokens_file.is_file(), f"the harness saved no tokens:\n{legacy_run.describe()}"
        migration = migrate_to_hybrid(root, allow_dirty=True)
        server.start()
        hybrid_run = run_harness(
            *path,
            "--base-url",
            server.base_url,
            "--phase",
            "hybrid",
            "--legacy-tokens",
            str(tokens_file),
            "--json",
            str(hybrid_json),
            cwd=workdir,
        )
        server.stop()
        finalize_run = finalize(root)
        server.start()
        final_run = run_harness(
            *path, "--base-url", server.base_url, "--phase", "final", "--legacy-tokens",
            str(final_tokens), "--json", str(final_json), cwd=workdir,
        )  # fmt: skip
    finally:
        server.stop()
    assert hybrid_json.is_file(), f"the harness wrote no report:\n{hybrid_run.describe()}"
    return ZooRun(
        name=name,
        store=store,
        legacy_run=legacy_run,
        legacy_report=read_json(legacy_json),
        migration=migration,
        hybrid_run=hybrid_run,
        hybrid_report=read_json(hybrid_json),
        finalize_run=finalize_run,
        final_run=final_run,
        final_report=read_json(final_json) if final_json.is_file() else {},
        server_log=server.log_text(),
    )


def _own_python(root: Path) -> Path:
    """The interpreter of a venv with the server's own requirements (skips without one)."""
    lines = (root / "requirements.txt").read_text(encoding="utf-8").splitlines()
    wanted = [line.split("#")[0].strip() for line in lines]
    try:
        return sdk_python([w for w in wanted if w])
    except SdkVenvUnavailable as missing:
        pytest.skip(f"no venv for {root.name}'s requirements: {missing}")


def finalize(root: Path) -> CommandResult:
    """`migrate finalize`, the clock moved past every opaque token's lifetime."""
    later = str(int(time.time()) + 2 * 3600)
    return run_command(
        [sys.executable, "-m", "migrate", "finalize", str(root), "--allow-dirty", "--yes"],
        cwd=root.parent,
        env=clean_env({"OAUTH_MIGRATE_NOW": later}),
    )


def _failure_message(phase: str, run: ZooRun, report: dict[str, Any], cli: CommandResult) -> str:
    failures = failed_checks(report)
    return (
        f"{run.name} ({run.store} store), {phase} phase: {len(failures)} failed checks\n"
        + "\n".join(f"  FAIL {failure}" for failure in failures)
        + f"\n\nsummary: {report.get('summary')}\n\n{cli.describe(3000)}"
        + f"\n--- server log (tail)\n{run.server_log[-3000:]}"
    )


def test_legacy_server_passes_the_legacy_phase(zoo_run: ZooRun) -> None:
    """Before the migration the copied server passes the harness's legacy phase (the baseline)."""
    report = zoo_run.legacy_report
    message = _failure_message("legacy", zoo_run, report, zoo_run.legacy_run)
    assert report.get("phase") == "legacy", message
    assert not failed_checks(report), message


def test_migrated_server_passes_the_hybrid_phase(zoo_run: ZooRun) -> None:
    """After `migrate plan` and `apply` alone, the server passes every hybrid-phase check."""
    report = zoo_run.hybrid_report
    message = _failure_message("hybrid", zoo_run, report, zoo_run.hybrid_run)
    assert report.get("phase") == "hybrid", message
    assert report.get("summary", {}).get("pass", 0) > 0, message
    assert not failed_checks(report), message


def test_legacy_grant_was_checked_across_the_migration(zoo_run: ZooRun) -> None:
    """With a persistent store, the hybrid run really exercised the pre-migration grant."""
    if zoo_run.store != "persistent":
        pytest.skip(f"{zoo_run.name} keeps tokens in memory: no grant survives the restart")
    statuses = {
        check.get("id"): str(check.get("status", "")).upper()
        for check in zoo_run.hybrid_report.get("checks", [])
    }
    for check_id in LEGACY_GRANT_CHECKS:
        assert statuses.get(check_id) == "PASS", (
            _failure_message("hybrid", zoo_run, zoo_run.hybrid_report, zoo_run.hybrid_run)
            + f"\n{check_id} is {statuses.get(check_id)}, not PASS"
        )


def test_finalize_succeeds_on_the_hybrid_servers_evidence(zoo_run: ZooRun) -> None:
    """`migrate finalize` accepts the hybrid server's metrics once the clock is past them."""
    assert zoo_run.finalize_run.returncode == 0, zoo_run.finalize_run.describe()


def test_finalized_server_passes_the_final_phase(zoo_run: ZooRun) -> None:
    """After `migrate finalize` alone, the server passes every final-phase check."""
    report = zoo_run.final_report
    message = _failure_message("final", zoo_run, report, zoo_run.final_run)
    assert report.get("phase") == "final", message
    assert report.get("summary", {}).get("pass", 0) > 0, message
    assert not failed_checks(report), message
