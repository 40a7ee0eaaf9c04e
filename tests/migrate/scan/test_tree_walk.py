"""Which files the scan reads: `--exclude`, real packages named like tool folders (case 5)."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from migrate.cli import cli
from migrate.planner import plan_hybrid
from migrate.scan.source import SourceTree
from tests.migrate.tree_support import REPO_ROOT, copy_sample

BROKEN = "def broken(:\n    pass\n"


def broken_gate(root: Path) -> None:
    auth = root / "sample_legacy" / "auth.py"
    auth.write_text(auth.read_text(encoding="utf-8") + "\n" + BROKEN, encoding="utf-8")


def test_case_5_parse_error_is_one_line_naming_file_line_and_exclude(tmp_path: Path) -> None:
    """A syntax error stops the plan with one line: the file, its line once, and --exclude."""
    root = copy_sample(tmp_path / "project")
    broken_gate(root)
    result = CliRunner().invoke(cli, ["plan", str(root)])
    assert result.exit_code == 1
    message = result.output.strip()
    assert len(message.splitlines()) == 1
    assert "sample_legacy/auth.py:" in message
    assert "--exclude" in message
    line = message.split("sample_legacy/auth.py:")[1].split(":")[0]
    assert line.isdigit() and message.count(line) == 1


def test_case_5_excluded_file_is_not_scanned(tmp_path: Path) -> None:
    """`--exclude` leaves a file out of the scan, so its syntax error no longer stops the plan."""
    root = copy_sample(tmp_path / "project")
    broken_gate(root)
    result = CliRunner().invoke(cli, ["plan", "--exclude", "sample_legacy/auth.py", str(root)])
    assert result.exit_code == 2, result.output
    assert "sample_legacy/auth.py" in result.output  # listed as excluded


def test_exclude_patterns_are_listed_in_the_plan(tmp_path: Path) -> None:
    """The plan says which patterns were left out of the scan."""
    root = copy_sample(tmp_path / "project")
    plan = plan_hybrid(root, exclude=["generated/*", "*_pb2.py"])
    assert any("generated/*" in n and "*_pb2.py" in n for n in plan.notes)


def test_exclude_matches_folders_names_and_paths(tmp_path: Path) -> None:
    """A pattern matches a folder (and all below it), a file name, or a relative path."""
    for rel in ("gen/a.py", "gen/deep/b.py", "pkg/x_pb2.py", "pkg/keep.py", "pkg/skip.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("X = 1\n", encoding="utf-8")
    tree = SourceTree(tmp_path, exclude=["gen", "*_pb2.py", "pkg/skip.py"])
    assert sorted(tree.files) == ["pkg/keep.py"]


def test_apply_takes_exclude_too(tmp_path: Path) -> None:
    """`migrate apply --exclude` plans with the same patterns (the broken file is left out)."""
    root = copy_sample(tmp_path / "project")
    (root / "sample_legacy" / "broken.py").write_text("Bearer = 1\n" + BROKEN, encoding="utf-8")
    refused = CliRunner().invoke(cli, ["apply", "--yes", str(root)])
    assert refused.exit_code == 1 and "sample_legacy/broken.py" in refused.output
    applied = CliRunner().invoke(
        cli, ["apply", "--yes", "--exclude", "sample_legacy/broken.py", str(root)]
    )
    assert applied.exit_code == 0, applied.output


def gate_package(tmp_path: Path, name: str) -> Path:
    """The sample server moved into a package called ``name`` (a tool folder's name)."""
    shutil.copytree(REPO_ROOT / "sample_legacy", tmp_path / name)
    return tmp_path


def test_package_named_build_with_a_gate_is_scanned(tmp_path: Path) -> None:
    """A real package called `build` is server code: its bearer gate is found."""
    plan = plan_hybrid(gate_package(tmp_path, "build"))
    assert any(f.kind == "gate" and f.where.startswith("build/auth.py:")
               for f in plan.findings)  # fmt: skip


def test_packages_named_env_dist_and_test_are_scanned(tmp_path: Path) -> None:
    """`env`, `dist` and `test` folders without a virtualenv inside are scanned."""
    for name in ("env", "dist", "test"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "module.py").write_text("X = 1\n", encoding="utf-8")
    assert sorted(SourceTree(tmp_path).files) == ["dist/module.py", "env/module.py",
                                                  "test/module.py"]  # fmt: skip


def test_virtualenv_is_skipped_whatever_its_name(tmp_path: Path) -> None:
    """A folder with pyvenv.cfg is a virtualenv and is skipped, whatever it is called."""
    for name in ("build", "myenv", ".venv"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "pyvenv.cfg").write_text("home = /usr/bin\n", encoding="utf-8")
        (tmp_path / name / "module.py").write_text("X = 1\n", encoding="utf-8")
    (tmp_path / "app.py").write_text("X = 1\n", encoding="utf-8")
    assert sorted(SourceTree(tmp_path).files) == ["app.py"]


def test_tool_caches_are_skipped(tmp_path: Path) -> None:
    """VCS folders, caches, node_modules and site-packages are never scanned."""
    for name in (".git", "__pycache__", "node_modules", ".tox", "lib/site-packages"):
        (tmp_path / name).mkdir(parents=True)
        (tmp_path / name / "module.py").write_text("X = 1\n", encoding="utf-8")
    assert list(SourceTree(tmp_path).files) == []


def test_setuptools_build_output_is_skipped(tmp_path: Path) -> None:
    """`build/lib/...` (a copy setuptools makes, not a package) would duplicate every finding."""
    shutil.copytree(REPO_ROOT / "sample_legacy", tmp_path / "build" / "lib" / "sample_legacy")
    assert list(SourceTree(tmp_path).files) == []
