"""`migrate verify` against the sample migrated by plan + apply: every check passes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from click.testing import Result

from migrate.apply import apply_plan
from migrate.planner import plan_hybrid
from tests.migrate.tree_support import copy_sample
from tests.migrate.verify.support import failing, run_verify, verdicts
from tests.sample_legacy.launch import HERMETIC_ENV
from tests.support.server_process import ServerProcess, command_from_start_file


@dataclass(frozen=True)
class Runs:
    base_url: str
    text: Result
    json: Result


def migrated_sample(workdir: Path) -> ServerProcess:
    """A copy of sample_legacy in the hybrid phase, ready to start from its project folder.

    launch.py reads SAMPLE_LEGACY_ROOT once, at import, so the copy is started directly.
    """
    project = copy_sample(workdir / "project")
    apply_plan(plan_hybrid(project), project)
    start = command_from_start_file(project / "sample_legacy" / "START")
    return ServerProcess(start, cwd=project, log_dir=workdir, env=HERMETIC_ENV)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with migrated_sample(tmp_path_factory.mktemp("migrated")) as running:
        yield running


@pytest.fixture(scope="module")
def runs(server: ServerProcess) -> Runs:
    """One text run and one JSON run of verify against the migrated sample."""
    return Runs(
        server.base_url,
        run_verify(server.base_url),
        run_verify(server.base_url + "/", "--format", "json"),
    )


def registered_client(base_url: str) -> tuple[str, str]:
    """A confidential client registered at the server, as an operator would have one."""
    body = {"redirect_uris": ["http://127.0.0.1:9/cb"], "client_name": "operator"}
    answer = httpx.post(base_url + "/register", json=body, timeout=15.0).json()
    return answer["client_id"], answer["client_secret"]


def test_exit_status_is_0(runs: Runs) -> None:
    """With no FAIL, verify exits 0."""
    assert runs.text.exit_code == 0, runs.text.output


def test_every_check_passes(runs: Runs) -> None:
    """Every check of the migrated sample is PASS: none is skipped, failed or a warning."""
    statuses = {check_id: status for check_id, (status, _) in verdicts(runs.text.output).items()}
    assert set(statuses.values()) == {"PASS"}, runs.text.output


def test_json_output_parses_with_a_summary(runs: Runs) -> None:
    """--format json prints one object with the URL, ok and the summary counts."""
    report = json.loads(runs.json.stdout)
    assert report["url"] == runs.base_url
    assert report["ok"] is True
    # 25: every check, token.pkce_enforced included
    assert report["summary"] == {"passed": 25, "failed": 0, "warnings": 0, "skipped": 0}


def test_json_verdicts_match_the_text_verdicts(runs: Runs) -> None:
    """The JSON checks carry the same ids and statuses, in order, as the text lines."""
    report = json.loads(runs.json.stdout)
    from_json = [(check["id"], check["status"]) for check in report["checks"]]
    from_text = [(check_id, status) for check_id, (status, _) in verdicts(runs.text.output).items()]
    assert from_json == from_text


def test_given_client_credentials_introspect(server: ServerProcess) -> None:
    """--client-id/--client-secret of a registered client pass the introspection checks."""
    client_id, secret = registered_client(server.base_url)
    result = run_verify(server.base_url, "--client-id", client_id, "--client-secret", secret)
    assert result.exit_code == 0, result.output


def test_wrong_client_credentials_fail_introspection(server: ServerProcess) -> None:
    """Credentials the server does not know fail the check made with them, and only it."""
    result = run_verify(server.base_url, "--client-id", "nobody", "--client-secret", "wrong")
    assert result.exit_code == 8
    assert failing(result.output) == {"introspect.inactive"}, result.output
