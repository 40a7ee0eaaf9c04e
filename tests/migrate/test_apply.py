"""`migrate apply` and `migrate rollback` on a real copy of the sample: all or nothing."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from migrate.apply import apply_plan
from migrate.cli import cli
from migrate.errors import StalePlan
from migrate.planner import plan_hybrid
from tests.migrate.tree_support import copy_sample, git, tree_bytes, write_forged


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_sample(tmp_path / "project")


def test_apply_writes_the_hybrid_phase(project: Path) -> None:
    """apply rewrites the server, emits the runtime and records the hybrid phase."""
    result = run("apply", str(project), "--yes")
    assert result.exit_code == 0, result.output
    state = json.loads((project / ".oauth-migration" / "state.json").read_text())
    assert state["phase"] == "hybrid"
    assert (project / "sample_legacy" / "oauth_migration" / "wiring.py").exists()
    assert "oauth_migration.mint_access_token(" in (project / "sample_legacy/oauth.py").read_text()


def test_apply_twice_changes_nothing_the_second_time(project: Path) -> None:
    """A second apply finds nothing to do and leaves every byte as it was."""
    run("apply", str(project), "--yes")
    before = tree_bytes(project)
    result = run("apply", str(project), "--yes")
    assert result.exit_code == 0
    assert "nothing to apply" in result.output
    assert tree_bytes(project) == before


def test_plan_after_apply_exits_0(project: Path) -> None:
    """`plan` on a migrated tree has nothing pending and exits 0."""
    run("apply", str(project), "--yes")
    assert run("plan", str(project)).exit_code == 0


def test_generated_key_is_private_and_ignored(project: Path) -> None:
    """apply generates a 0600 key in a 0700 folder that .gitignore keeps out of git."""
    run("apply", str(project), "--yes")
    keys = project / ".oauth-migration" / "keys"
    pems = list(keys.glob("*.pem"))
    assert len(pems) == 1
    assert stat.S_IMODE(pems[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    assert "/.oauth-migration/keys/" in (project / ".gitignore").read_text().splitlines()


def test_stale_plan_is_refused_with_the_changed_file(project: Path, tmp_path: Path) -> None:
    """A plan whose input files changed since is refused (exit 4), naming them."""
    plan_file = tmp_path / "plan.json"
    run("plan", str(project), "--out", str(plan_file))
    auth = project / "sample_legacy" / "auth.py"
    auth.write_text(auth.read_text() + "\n# edited after planning\n")
    before = tree_bytes(project)
    result = run("apply", "--plan", str(plan_file))
    assert result.exit_code == 4
    assert "sample_legacy/auth.py" in result.output
    assert tree_bytes(project) == before


def test_plan_of_another_kit_version_is_refused(project: Path, tmp_path: Path) -> None:
    """A plan made by another kit version is refused as stale (exit 4)."""
    plan_file = tmp_path / "plan.json"
    run("plan", str(project), "--out", str(plan_file))
    data = json.loads(plan_file.read_text())
    data["kit_version"] = "0.0.1"
    write_forged(plan_file, data)
    result = run("apply", "--plan", str(plan_file))
    assert result.exit_code == 4
    assert "0.0.1" in result.output


def test_saved_plan_applies_exactly(project: Path, tmp_path: Path) -> None:
    """apply --plan writes exactly the text the plan holds."""
    plan_file = tmp_path / "plan.json"
    run("plan", str(project), "--out", str(plan_file))
    planned = {c["path"]: c["after"] for c in json.loads(plan_file.read_text())["changes"]}
    assert run("apply", "--plan", str(plan_file)).exit_code == 0
    for path, text in planned.items():
        assert (project / path).read_text() == text


def test_dirty_git_tree_is_refused(project: Path) -> None:
    """apply refuses (exit 3) over uncommitted changes and names them."""
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "legacy")
    (project / "sample_legacy" / "store.py").write_text("# uncommitted\n", encoding="utf-8")
    result = run("apply", str(project), "--yes")
    assert result.exit_code == 3
    assert "store.py" in result.output


def test_allow_dirty_applies_over_uncommitted_changes(project: Path) -> None:
    """--allow-dirty lets apply run over uncommitted changes."""
    git(project, "init", "-q")
    (project / "notes.txt").write_text("uncommitted\n", encoding="utf-8")
    assert run("apply", str(project), "--yes", "--allow-dirty").exit_code == 0


@pytest.mark.parametrize("failing_write", [1, 2, 7, 19])
def test_interrupted_apply_leaves_the_tree_as_it_was(project: Path, failing_write: int) -> None:
    """A failure on the Nth file write undoes every write before it: same bytes, no state."""
    before = tree_bytes(project)
    plan = plan_hybrid(project)
    assert len(plan.changes) >= failing_write
    writes: list[str] = []

    def fail_on_nth(label: str) -> None:
        if label.startswith("write "):
            writes.append(label)
        if len(writes) == failing_write:
            raise OSError("disk full (injected)")

    with pytest.raises(OSError, match="injected"):
        apply_plan(plan, project, write_hook=fail_on_nth)
    assert tree_bytes(project) == before
    assert not (project / ".oauth-migration").exists()


def test_rollback_restores_every_byte(project: Path) -> None:
    """rollback after apply gives back the exact legacy tree and removes what apply made."""
    before = tree_bytes(project)
    run("apply", str(project), "--yes")
    result = run("rollback", str(project), "--yes")
    assert result.exit_code == 0, result.output
    assert tree_bytes(project) == before
    assert not (project / ".oauth-migration").exists()


def test_rollback_refuses_over_edits_and_names_them(project: Path) -> None:
    """rollback refuses (exit 5) when an applied file was edited since, changing nothing."""
    run("apply", str(project), "--yes")
    oauth = project / "sample_legacy" / "oauth.py"
    oauth.write_text(oauth.read_text() + "\n# a later fix\n")
    before = tree_bytes(project)
    result = run("rollback", str(project), "--yes")
    assert result.exit_code == 5
    assert "sample_legacy/oauth.py" in result.output
    assert tree_bytes(project) == before


def test_rollback_without_apply_says_so(project: Path) -> None:
    """rollback on a tree never applied exits 1 with one clear line."""
    result = run("rollback", str(project))
    assert result.exit_code == 1
    assert "nothing to roll back" in result.output


def test_apply_refused_carries_its_exit_code() -> None:
    """A stale-plan refusal keeps the exit status the CLI reports."""
    assert StalePlan("stale").exit_code == 4


def test_plan_for_another_tree_is_refused(project: Path, tmp_path: Path) -> None:
    """apply --plan with a PATH other than the plan's tree is refused (exit 4)."""
    plan_file = tmp_path / "plan.json"
    run("plan", str(project), "--out", str(plan_file))
    other = copy_sample(tmp_path / "other")
    before = tree_bytes(other)
    result = run("apply", str(other), "--plan", str(plan_file))
    assert result.exit_code == 4
    assert tree_bytes(other) == before


def test_plan_writing_outside_the_tree_is_refused(project: Path, tmp_path: Path) -> None:
    """A plan edited to write outside its tree is refused (exit 4), and nothing is written."""
    plan_file = tmp_path / "plan.json"
    run("plan", str(project), "--out", str(plan_file))
    data = json.loads(plan_file.read_text())
    data["changes"].append(
        {
            "path": "../escaped.py",
            "before": None,
            "after": "x = 1\n",
            "emitted": False,
            "encoding": "utf-8",
        }
    )
    write_forged(plan_file, data)
    result = run("apply", "--plan", str(plan_file))
    assert result.exit_code == 4
    assert not (tmp_path / "escaped.py").exists()


def test_tampered_plan_types_are_a_clear_error(project: Path, tmp_path: Path) -> None:
    """A plan file with wrong types exits 1 with one line, not a traceback."""
    plan_file = tmp_path / "plan.json"
    run("plan", str(project), "--out", str(plan_file))
    data = json.loads(plan_file.read_text())
    data["reads"] = []
    write_forged(plan_file, data)
    result = run("apply", "--plan", str(plan_file))
    assert result.exit_code == 4
    assert "malformed plan file" in result.output


def test_failed_state_write_undoes_the_whole_apply(project: Path) -> None:
    """When the state file cannot be written, every file written before is restored."""
    before = tree_bytes(project)
    plan = plan_hybrid(project)

    def fail_on_state(label: str) -> None:
        if label.endswith("state.json"):
            raise OSError("disk full (injected)")

    with pytest.raises(OSError, match="injected"):
        apply_plan(plan, project, write_hook=fail_on_state)
    assert tree_bytes(project) == before


def test_crlf_files_roll_back_byte_for_byte(project: Path) -> None:
    """Files with CRLF line endings keep them through apply and rollback."""
    auth = project / "sample_legacy" / "auth.py"
    auth.write_bytes(auth.read_bytes().replace(b"\n", b"\r\n"))
    before = tree_bytes(project)
    assert run("apply", str(project), "--yes").exit_code == 0
    assert b"\r\n" in auth.read_bytes()
    assert run("rollback", str(project), "--yes").exit_code == 0
    assert tree_bytes(project) == before
