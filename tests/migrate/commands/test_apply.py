"""`migrate apply`: what the command prints and refuses; the writes are test_apply.py's."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from migrate.cli import cli
from tests.migrate.tree_support import copy_sample, tree_bytes


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def test_json_result_names_the_written_files_and_the_new_phase(tmp_path: Path) -> None:
    """`apply --format json` is one object: the phase, the files written, the key made."""
    project = copy_sample(tmp_path / "project")
    result = run("apply", str(project), "--yes", "--allow-dirty", "--format", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["schema"] == "oauth-migrate/apply/2"
    assert document["phase"] == "hybrid"
    assert document["keys_generated"] is True
    assert "sample_legacy/oauth.py" in document["written"]
    wrote = f"wrote {len(document['written'])} files in"
    assert any(line.startswith(wrote) for line in document["messages"])


def test_nothing_pending_is_said_and_exits_0(tmp_path: Path) -> None:
    """A second apply writes nothing and says which phase the tree is in (text and json)."""
    project = copy_sample(tmp_path / "project")
    assert run("apply", str(project), "--yes", "--allow-dirty").exit_code == 0
    before = tree_bytes(project)
    text = run("apply", str(project), "--yes", "--allow-dirty")
    assert text.exit_code == 0
    assert text.stdout == "nothing to apply: the tree is already in the hybrid phase\n"
    as_json = json.loads(run("apply", str(project), "--yes", "--format", "json").stdout)
    assert as_json["written"] == [] and as_json["phase"] == "hybrid"
    assert tree_bytes(project) == before


def test_a_folder_without_server_code_has_nothing_to_apply(tmp_path: Path) -> None:
    """No recipe recognises a server: exit 0, says so, and nothing written."""
    (tmp_path / "tool.py").write_text("print('hello')\n", encoding="utf-8")
    result = run("apply", str(tmp_path), "--yes")
    assert result.exit_code == 0
    assert "nothing to apply: no legacy authorization server found under" in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tool.py"]


def test_a_malformed_saved_plan_is_stale(tmp_path: Path) -> None:
    """`apply --plan` of a file that is not a plan exits 4 (not the plan reviewed)."""
    plan_file = tmp_path / "plan.json"
    plan_file.write_text("{not json", encoding="utf-8")
    result = run("apply", "--plan", str(plan_file))
    assert result.exit_code == 4
    assert str(plan_file) in result.stderr
