"""`migrate plan`: findings, steps, the diff, exit codes, determinism, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from migrate import emit
from migrate.cli import cli
from migrate.commands._options import STEP_IDS
from tests.migrate.tree_support import copy_sample, tree_bytes


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_sample(tmp_path / "project")


def test_pending_changes_exit_2(project: Path) -> None:
    """A legacy tree has changes pending: exit status 2."""
    assert run("plan", str(project)).exit_code == 2


@pytest.mark.parametrize(
    ("kind", "where"),
    [
        ("metadata", "sample_legacy/oauth.py:"),
        ("mint", "sample_legacy/oauth.py:"),
        ("gate", "sample_legacy/auth.py:"),
        ("app", "sample_legacy/app.py:"),
    ],
)
def test_text_plan_names_each_finding_with_file_and_line(
    project: Path, kind: str, where: str
) -> None:
    """The text plan has a finding line of each kind naming its file:line."""
    lines = [line.split() for line in run("plan", str(project)).output.splitlines()]
    found = [words[1] for words in lines if words[:1] == [kind]]
    assert any(w.startswith(where) and w[len(where) :].isdigit() for w in found)


def test_text_plan_shows_a_unified_diff(project: Path) -> None:
    """The plan carries the unified diff of every rewritten file."""
    output = run("plan", str(project)).output
    assert "--- a/sample_legacy/auth.py" in output
    assert "+        record = oauth_migration.resolve(token" in output


def test_emitted_runtime_files_are_listed_not_dumped(project: Path) -> None:
    """Runtime package files are named in the plan but their text is not in the diff."""
    output = run("plan", str(project)).output
    assert "sample_legacy/oauth_migration/verifier.py" in output
    assert "+++ b/sample_legacy/oauth_migration/verifier.py" not in output


def test_plan_is_byte_identical_for_the_same_tree(project: Path) -> None:
    """Planning twice gives the same bytes, in text and in JSON."""
    assert run("plan", str(project)).stdout == run("plan", str(project)).stdout
    first = run("plan", str(project), "--format", "json").stdout
    assert first == run("plan", str(project), "--format", "json").stdout


def test_json_plan_has_steps_with_ids_and_safety(project: Path) -> None:
    """The JSON plan lists ordered steps, each with an id and a safety."""
    data = json.loads(run("plan", str(project), "--format", "json").stdout)
    ids = [s["id"] for s in data["steps"] if s["safety"] == "safe"]
    assert ids[:2] == ["keys", "emit-runtime"]
    assert {"wrap-metadata", "mint-jwt", "hybrid-gate", "install-runtime"} <= set(ids)
    assert all(s["safety"] in ("safe", "manual") for s in data["steps"])


def test_only_keeps_the_selected_steps(project: Path) -> None:
    """--only the gate (with the runtime it needs) leaves the mint and metadata alone."""
    only = ["--only", "hybrid-gate", "--only", "keys", "--only", "emit-runtime"]
    data = json.loads(
        run("plan", str(project), "--format", "json", *only, "--only", "install-runtime").stdout
    )
    server_files = sorted(c["path"] for c in data["changes"] if "oauth_migration" not in c["path"])
    assert server_files == ["sample_legacy/app.py", "sample_legacy/auth.py"]


def test_selection_without_the_runtime_is_refused(project: Path) -> None:
    """--only hybrid-gate alone would not start: the plan refuses and names what is missing."""
    result = run("plan", str(project), "--only", "hybrid-gate")
    assert result.exit_code == 1
    assert "emit-runtime" in result.output


def test_skip_leaves_a_step_out(project: Path) -> None:
    """--skip mint-jwt leaves the mint as it was."""
    data = json.loads(run("plan", str(project), "--format", "json", "--skip", "mint-jwt").stdout)
    oauth = next(c for c in data["changes"] if c["path"] == "sample_legacy/oauth.py")
    assert "mint_access_token" not in oauth["after"]
    assert "authorization_server_metadata(" in oauth["after"]


def test_unknown_step_id_is_an_error(project: Path) -> None:
    """An unknown --only id is a usage error (64) naming it and listing the valid ids."""
    result = run("plan", str(project), "--only", "nope")
    assert result.exit_code == 64
    assert "nope" in result.output
    assert f"(the step ids: {STEP_IDS})" in result.output


def test_missing_requirements_file_blocks_the_plan(project: Path) -> None:
    """Without a dependency file the plan is blocked (6): a server deployed without the
    runtime's packages would not start; the step names them and the way out."""
    (project / "requirements.txt").unlink()
    result = run("plan", str(project))
    assert result.exit_code == 6, result.output
    assert "pyjwt[crypto]>=2.14" in result.output
    assert "--skip requirements" in result.output


def test_apply_writes_nothing_without_a_dependency_file(project: Path) -> None:
    """`apply` on the blocked plan exits 6 and leaves every file as it was."""
    (project / "requirements.txt").unlink()
    before = tree_bytes(project)
    result = run("apply", str(project), "--yes")
    assert result.exit_code == 6, result.output
    assert tree_bytes(project) == before


def test_skipping_requirements_unblocks_the_plan(project: Path) -> None:
    """`--skip requirements` is the operator saying the deployment installs them itself."""
    (project / "requirements.txt").unlink()
    result = run("plan", str(project), "--skip", "requirements")
    assert result.exit_code == 2, result.output


def test_requirements_file_gains_the_runtime_dependencies(project: Path) -> None:
    """An existing requirements.txt gets pyjwt[crypto] and cryptography appended."""
    (project / "requirements.txt").write_text("starlette>=1.0\n", encoding="utf-8")
    data = json.loads(run("plan", str(project), "--format", "json").stdout)
    change = next(c for c in data["changes"] if c["path"] == "requirements.txt")
    assert change["after"].startswith("starlette>=1.0\n")
    assert "pyjwt[crypto]>=2.14" in change["after"]


def test_unparsable_file_is_a_clear_error(project: Path) -> None:
    """A candidate file that does not parse stops the plan with file and line, no traceback."""
    (project / "sample_legacy" / "broken.py").write_text(
        'TOKENS = {"access_token": secrets.token_hex(\n', encoding="utf-8"
    )
    result = run("plan", str(project))
    assert result.exit_code == 1
    assert "sample_legacy/broken.py" in result.output
    assert "cannot parse" in result.output
    assert "Traceback" not in result.output


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    """Planning a folder that does not exist exits 1 with one line."""
    result = run("plan", str(tmp_path / "absent"))
    assert result.exit_code == 1
    assert "no such folder" in result.output


APP_WITHOUT_OAUTH = """\
import secrets

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route


async def home(request):
    return JSONResponse({"csrf": secrets.token_urlsafe(16)})


app = Starlette(routes=[Route("/", home)])
"""


def test_tree_without_a_server_has_no_step(tmp_path: Path) -> None:
    """A tree no recipe recognises (an app, library code, no OAuth server) exits 0 and
    says so, with no step and nothing to write."""
    (tmp_path / "tool.py").write_text("print('hello')\n", encoding="utf-8")
    (tmp_path / "web.py").write_text(APP_WITHOUT_OAUTH, encoding="utf-8")
    result = run("plan", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert (
        result.output
        == f"no legacy authorization server found under {tmp_path}: nothing to migrate.\n"
    )


def test_plan_names_the_recipe_and_its_evidence(project: Path) -> None:
    """The plan says which server shape it recognised, and on what lines."""
    output = run("plan", str(project)).output
    assert "Server shape: hand-written (OAuth routes written by hand" in output
    evidence = output.split("recognised by\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert evidence and all(line.split()[1].startswith("sample_legacy/") for line in evidence)


def test_runtime_files_are_listed_once(project: Path) -> None:
    """The runtime package's files appear once (under "Runtime package"), not twice."""
    output = run("plan", str(project)).output
    assert output.count("  sample_legacy/oauth_migration/verifier.py\n") == 1
    runtime = len(emit.shim_files()) + 1  # the shims and the generated wiring.py
    assert f"Runtime package ({runtime} files, created from shims/)" in output


def test_plan_ends_with_a_summary_and_the_next_step(project: Path) -> None:
    """The text plan ends with a count of what it changes and the command to run next."""
    lines = run("plan", str(project)).stdout.splitlines()
    created = len(emit.shim_files()) + 2  # the runtime package and .gitignore
    assert lines[-2] == (
        f"Plan: 9 steps, 5 files to change, {created} to create, 0 manual (pending)"
    )
    assert lines[-1] == f"next: migrate apply {project}"


def test_plan_json_carries_its_schema_and_exit_code(project: Path) -> None:
    """The JSON plan names its schema and the exit code the command returned."""
    result = run("plan", str(project), "--format", "json")
    data = json.loads(result.stdout)
    assert (data["schema"], data["exit_code"], result.exit_code) == ("oauth-migrate/plan/2", 2, 2)
