"""Every write stays inside the target tree, and hand-edited state or plan files are
refused whole (security findings 3 and 5; NEWCOMER-UX cases 8b, 17-18)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from migrate.cli import cli
from tests.migrate.tree_support import copy_sample, tree_bytes, write_forged


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_sample(tmp_path / "project")


@pytest.fixture
def applied(project: Path) -> Path:
    result = run("apply", str(project), "--yes")
    assert result.exit_code == 0, result.output
    return project


def _state_file(root: Path) -> Path:
    return root / ".oauth-migration" / "state.json"


def _state(root: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(_state_file(root).read_text(encoding="utf-8"))
    return data


def test_finding_3_rollback_refuses_paths_outside_the_tree(applied: Path, tmp_path: Path) -> None:
    """A forged state naming an absolute path and a ``../`` path (digest recomputed, as an
    attacker who read the source would) is refused: no file outside the tree is written or
    deleted, and nothing inside changes."""
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "victim.txt"
    victim.write_text("precious data\n", encoding="utf-8")
    planted = tmp_path / "planted.pth"
    data = _state(applied)
    data["history"][-1]["files"][str(planted)] = {"before": "import os\n", "after": None}
    data["history"][-1]["files"]["../outside/victim.txt"] = {
        "before": None,
        "after": "precious data\n",
    }
    write_forged(_state_file(applied), data)
    before = tree_bytes(applied)
    result = run("rollback", str(applied), "--yes")
    assert result.exit_code == 1
    assert "outside the tree" in result.output
    assert victim.read_text(encoding="utf-8") == "precious data\n"
    assert not planted.exists()
    assert tree_bytes(applied) == before


def test_finding_3_rollback_refuses_a_symlink_leading_out(applied: Path, tmp_path: Path) -> None:
    """A relative path through a symlinked folder that leads out of the tree is refused."""
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "x.py").write_text("x = 1\n", encoding="utf-8")
    os.symlink(outside, applied / "sample_legacy" / "link")
    data = _state(applied)
    data["history"][-1]["files"]["sample_legacy/link/x.py"] = {"before": None, "after": "x = 1\n"}
    write_forged(_state_file(applied), data)
    result = run("rollback", str(applied), "--yes")
    assert result.exit_code == 1
    assert (outside / "x.py").read_text(encoding="utf-8") == "x = 1\n"


def test_hand_edited_state_is_refused_with_what_to_do(applied: Path) -> None:
    """An edit without the digest recomputed: refused, named, with the git command."""
    text = _state_file(applied).read_text(encoding="utf-8")
    _state_file(applied).write_text(text.replace('"hybrid"', '"final"', 1), encoding="utf-8")
    before = tree_bytes(applied)
    result = run("rollback", str(applied), "--yes")
    assert result.exit_code == 1
    assert "digest does not match" in result.output
    assert "git checkout" in result.output
    assert tree_bytes(applied) == before


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda d: d["history"][-1].pop("files"), id="17d-no-files-field"),
        pytest.param(lambda d: d["history"][-1].update(files=[]), id="17c-files-a-list"),
        pytest.param(lambda d: d.update(phase="banana"), id="17e-unknown-phase"),
        pytest.param(lambda d: d["history"][-1].update(phase_to="final"), id="phase-not-chained"),
        pytest.param(
            lambda d: d["history"][-1]["files"].update({"a.py": "text"}), id="file-entry-a-string"
        ),
    ],
)
def test_forged_state_of_the_wrong_shape_changes_nothing(applied: Path, edit: Any) -> None:
    """NEWCOMER-UX 17c-17e: a state file no apply wrote (even with a valid digest) is
    refused whole; rollback deletes no key and no state, and exits 1 with one line."""
    data = _state(applied)
    edit(data)
    write_forged(_state_file(applied), data)
    before = tree_bytes(applied)
    result = run("rollback", str(applied), "--yes")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "state" in result.output
    assert tree_bytes(applied) == before


@pytest.mark.parametrize("shape", ["[]", '"text"', "{"])
def test_state_that_is_not_an_object_is_one_line(applied: Path, shape: str) -> None:
    """NEWCOMER-UX 17/17b: a list, a string or truncated JSON: exit 1, no traceback."""
    _state_file(applied).write_text(shape, encoding="utf-8")
    for command in ("plan", "status", "finalize", "rollback"):
        result = run(
            command, str(applied), *(["--yes"] if command in ("finalize", "rollback") else [])
        )
        assert result.exit_code == 1, (command, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit)


def test_finding_5_symlinked_key_folder_is_refused(project: Path, tmp_path: Path) -> None:
    """`.oauth-migration/keys` committed as a symlink: apply writes no key through it and
    does not chmod its target."""
    www = tmp_path / "www"
    www.mkdir()
    www.chmod(0o755)
    (www / "index.html").write_text("<h1>site</h1>\n", encoding="utf-8")
    (project / ".oauth-migration").mkdir()
    os.symlink(www, project / ".oauth-migration" / "keys")
    result = run("apply", str(project), "--yes")
    assert result.exit_code == 1
    assert "symlink" in result.output
    assert sorted(p.name for p in www.iterdir()) == ["index.html"]
    assert www.stat().st_mode & 0o777 == 0o755


def test_finding_5_symlinked_state_folder_is_refused(project: Path, tmp_path: Path) -> None:
    """`.oauth-migration` itself a symlink: no state or key written into its target, and a
    state file there is not read."""
    elsewhere = tmp_path / "outside2"
    elsewhere.mkdir()
    os.symlink(elsewhere, project / ".oauth-migration")
    result = run("apply", str(project), "--yes")
    assert result.exit_code == 1
    assert "symlink" in result.output
    assert list(elsewhere.iterdir()) == []


def test_case_8b_symlinked_server_file_stays_a_link(project: Path) -> None:
    """A server file that is a symlink into the tree: its target is migrated once, the
    link stays a link, and rollback restores every byte."""
    common = project / "common"
    common.mkdir()
    auth = project / "sample_legacy" / "auth.py"
    os.replace(auth, common / "auth.py")
    os.symlink("../common/auth.py", auth)
    before = tree_bytes(project)
    result = run("apply", str(project), "--yes")
    assert result.exit_code == 0, result.output
    assert auth.is_symlink()
    assert "oauth_migration" in (common / "auth.py").read_text(encoding="utf-8")
    result = run("rollback", str(project), "--yes")
    assert result.exit_code == 0, result.output
    assert auth.is_symlink()
    assert tree_bytes(project) == before


def _saved_plan(project: Path, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    plan_file = tmp_path / "plan.json"
    run("plan", str(project), "--out", str(plan_file))
    data: dict[str, Any] = json.loads(plan_file.read_text(encoding="utf-8"))
    return plan_file, data


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda d: d.update(manual="text"), id="18e-manual-a-string"),
        pytest.param(lambda d: d.update(manual=[{}], steps=[{}]), id="18e-manual-empty-dicts"),
        pytest.param(lambda d: d.update(changes={}), id="18f-changes-empty"),
        pytest.param(lambda d: d.update(phase_to="final"), id="18g-phase-final"),
        pytest.param(lambda d: d.update(phase_to="banana"), id="18g-phase-banana"),
    ],
)
def test_forged_plans_write_nothing(project: Path, tmp_path: Path, edit: Any) -> None:
    """NEWCOMER-UX 18e-18g: a plan no `plan --out` wrote is refused before any write (exit
    4), even with its digest recomputed; the readiness gate cannot be skipped this way."""
    plan_file, data = _saved_plan(project, tmp_path)
    edit(data)
    write_forged(plan_file, data)
    before = tree_bytes(project)
    result = run("apply", "--plan", str(plan_file))
    assert result.exit_code == 4, result.output
    assert "Traceback" not in result.output
    assert tree_bytes(project) == before


def test_18h_plan_edited_by_hand_is_refused(project: Path, tmp_path: Path) -> None:
    """Code appended to a change's text without the digest recomputed: refused (exit 4)."""
    plan_file, data = _saved_plan(project, tmp_path)
    data["changes"][0]["after"] += "import os; os.system('id')\n"
    plan_file.write_text(json.dumps(data), encoding="utf-8")
    before = tree_bytes(project)
    result = run("apply", "--plan", str(plan_file))
    assert result.exit_code == 4
    assert "digest" in result.output
    assert tree_bytes(project) == before


def test_plan_from_an_earlier_phase_is_refused(applied: Path, tmp_path: Path) -> None:
    """A plan made in the legacy phase, applied to a tree now hybrid: stale (exit 4)."""
    fresh = copy_sample(tmp_path / "fresh")
    plan_file, data = _saved_plan(fresh, tmp_path)
    data["root"] = str(applied.resolve())
    write_forged(plan_file, data)
    result = run("apply", "--plan", str(plan_file))
    assert result.exit_code == 4
    assert "phase" in result.output


def test_non_utf8_file_is_written_back_in_its_encoding(project: Path) -> None:
    """A change of a latin-1 file (PEP 263 cookie) is written in latin-1, and rolled back
    byte for byte."""
    from migrate.apply import apply_plan
    from migrate.plan import FileChange, Plan
    from migrate.rollback import rollback

    path = project / "legacy_latin1.py"
    original = "# -*- coding: latin-1 -*-\nNAME = 'café'\n"
    path.write_bytes(original.encode("latin-1"))
    before = tree_bytes(project)
    after = original + "MIGRATED = 'naïve'\n"
    plan = Plan(str(project.resolve()), "legacy", "hybrid")
    plan.changes.append(FileChange("legacy_latin1.py", original, after, encoding="latin-1"))
    apply_plan(plan, project)
    assert path.read_bytes() == after.encode("latin-1")
    rollback(project)
    assert tree_bytes(project) == before


def test_latin1_gate_file_is_migrated_in_latin1(project: Path) -> None:
    """The bearer-gate file in latin-1 with its PEP 263 cookie: apply migrates it and
    writes it back in latin-1; rollback restores every byte."""
    auth = project / "sample_legacy" / "auth.py"
    text = "# -*- coding: latin-1 -*-\n# Prüfung der Zugänge\n" + auth.read_text(encoding="utf-8")
    auth.write_bytes(text.encode("latin-1"))
    before = tree_bytes(project)
    result = run("apply", str(project), "--yes")
    assert result.exit_code == 0, result.output
    migrated = auth.read_bytes().decode("latin-1")
    assert "Prüfung" in migrated and "oauth_migration" in migrated
    with pytest.raises(UnicodeDecodeError):
        auth.read_bytes().decode("utf-8")
    result = run("rollback", str(project), "--yes")
    assert result.exit_code == 0, result.output
    assert tree_bytes(project) == before
