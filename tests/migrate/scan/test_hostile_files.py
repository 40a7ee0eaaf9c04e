"""Finding 14: one hostile `.py` file must not hang, crash or stop `migrate plan`.

Each plan runs `python -m migrate` in a child process: before the fix some of these files
killed the interpreter with SIGSEGV, which would take pytest down with it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from migrate.scan import bounds
from migrate.scan.source import SourceTree
from tests.migrate.tree_support import REPO_ROOT, copy_sample

# A marker the metadata finder looks for, so the file is parsed (and could matter).
MARKED = "authorization_endpoint = 1\n"


def run_migrate(*args: str) -> subprocess.CompletedProcess[str]:
    # The timeout is only a safety net against the hang this finding is about.
    return subprocess.run(
        [sys.executable, "-m", "migrate", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def plan_json(root: Path) -> dict[str, Any]:
    result = run_migrate("plan", "--format", "json", str(root))
    assert result.returncode in (0, 2, 6), (result.returncode, result.stderr)  # 6: blocked
    plan: dict[str, Any] = json.loads(result.stdout)
    return plan


def hostile_tree(tmp_path: Path, text: str) -> Path:
    root = copy_sample(tmp_path / "project")
    (root / "sample_legacy" / "generated.py").write_text(text, encoding="utf-8")
    return root


def unreadable(plan: dict[str, Any]) -> dict[str, str]:
    return {f["where"]: f["detail"] for f in plan["findings"] if f["kind"] == "unreadable"}


def test_finding_14_deep_bracket_nesting_is_refused_not_a_segfault(tmp_path: Path) -> None:
    """A 5000-deep list (libcst overflowed its stack) is reported unreadable, no crash."""
    root = hostile_tree(tmp_path, MARKED + "x = " + "[" * 5000 + "]" * 5000 + "\n")
    found = unreadable(plan_json(root))
    assert "nested parentheses" in found["sample_legacy/generated.py"]


def test_finding_14_long_operator_chain_is_refused(tmp_path: Path) -> None:
    """A 1000-term `a+a+...` chain (libcst's parse time grows super-linearly) is refused."""
    root = hostile_tree(tmp_path, MARKED + "x = " + "+".join(["a"] * 1000) + "\n")
    found = unreadable(plan_json(root))
    assert f"bound of {bounds.MAX_DEPTH} levels" in found["sample_legacy/generated.py"]


def test_finding_14_long_boolean_chain_is_refused(tmp_path: Path) -> None:
    """`a and a and ...` is flat in Python's tree but nested in libcst's: counted, refused."""
    root = hostile_tree(tmp_path, MARKED + "x = " + " and ".join(["a"] * 20000) + "\n")
    found = unreadable(plan_json(root))
    assert "nested" in found["sample_legacy/generated.py"]


def test_finding_14_long_implicit_string_concatenation_is_refused(tmp_path: Path) -> None:
    """1000 adjacent string literals (one constant to Python, 1000 deep to libcst) are refused."""
    root = hostile_tree(tmp_path, MARKED + "x = (\n" + '"a"\n' * 1000 + ")\n")
    found = unreadable(plan_json(root))
    assert "nested" in found["sample_legacy/generated.py"]


def test_finding_14_scan_goes_on_past_a_refused_file(tmp_path: Path) -> None:
    """The other files are still scanned: the sample's gate, mint and metadata are found."""
    root = hostile_tree(tmp_path, MARKED + "x = " + "[" * 5000 + "]" * 5000 + "\n")
    kinds = {f["kind"] for f in plan_json(root)["findings"]}
    assert {"gate", "mint", "metadata", "unreadable"} <= kinds


def test_finding_14_refused_file_that_could_hold_metadata_blocks_apply(tmp_path: Path) -> None:
    """A refused file holding a metadata marker blocks apply (exit 6), nothing written."""
    root = hostile_tree(tmp_path, MARKED + "x = " + "+".join(["a"] * 1000) + "\n")
    before = (root / "sample_legacy" / "auth.py").read_bytes()
    result = run_migrate("apply", "--yes", str(root))
    assert result.returncode == 6, result.stderr
    assert (root / "sample_legacy" / "auth.py").read_bytes() == before


def test_finding_14_case_7b_large_generated_module_is_skipped_with_a_note(
    tmp_path: Path,
) -> None:
    """A module past the size bound holding `del ` and `TTL` is skipped with a note, not parsed."""
    line = "ACCESS_TOKEN_TTL = 3600\ndel ACCESS_TOKEN_TTL\n"
    text = line * (bounds.MAX_BYTES // len(line) + 1)
    plan = plan_json(hostile_tree(tmp_path, text))
    notes = [n for n in plan["notes"] if "sample_legacy/generated.py" in n]
    assert notes and "bytes" in notes[0]
    assert plan["blocked_by"] == []


def test_finding_14_newer_syntax_is_checked_in_a_child_process(tmp_path: Path) -> None:
    """A file Python cannot parse itself (newer syntax) that crashes libcst is refused."""
    text = "type Alias = int\n" + MARKED + "x = " + " and ".join(["a"] * 20000) + "\n"
    found = unreadable(plan_json(hostile_tree(tmp_path, text)))
    assert "libcst" in found["sample_legacy/generated.py"]


def test_finding_14_newer_syntax_within_bounds_is_parsed(tmp_path: Path) -> None:
    """A PEP 695 file that libcst parses within the bounds is scanned, not refused."""
    (tmp_path / "meta.py").write_text(
        "type Alias = int\n"
        'METADATA = {"issuer": "https://a", "authorization_endpoint": "https://a/authorize"}\n',
        encoding="utf-8",
    )
    tree = SourceTree(tmp_path)
    assert [s.rel for s in tree.with_text("authorization_endpoint")] == ["meta.py"]
    assert tree.unreadable == {}


def test_finding_14_child_parse_has_a_time_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A child parse that runs past the time bound is stopped and the file refused."""
    monkeypatch.setattr(bounds, "PARSE_TIMEOUT", 0.5)
    text = "type Alias = int\n" + MARKED + "x = " + "+".join(["a"] * 6000) + "\n"
    (tmp_path / "slow.py").write_text(text, encoding="utf-8")
    tree = SourceTree(tmp_path)
    assert list(tree.with_text("authorization_endpoint")) == []
    assert "seconds" in tree.unreadable["slow.py"].reason


def test_finding_14_depth_is_measured_without_recursion() -> None:
    """The depth of a 2000-deep tree is measured (iteratively) and refused, no RecursionError."""
    text = "x = " + "-" * 2000 + "a\n"
    reason = bounds.refusal(text, len(text))
    assert reason is not None and f"bound of {bounds.MAX_DEPTH} levels" in reason


def test_finding_14_real_code_is_within_the_bounds() -> None:
    """The kit's own largest modules pass the bounds (they are real code, not hostile)."""
    for path in (REPO_ROOT / "migrate").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert bounds.refusal(text, len(text.encode())) is None, path


def test_finding_14_child_parse_never_imports_code_from_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `migrate` package in the current folder (say, the scanned tree) is not what the
    child process runs: the kit's own parser is."""
    fake = tmp_path / "migrate" / "scan"
    fake.mkdir(parents=True)
    (tmp_path / "migrate" / "__init__.py").write_text("", encoding="utf-8")
    (fake / "__init__.py").write_text("", encoding="utf-8")
    planted = tmp_path / "ran.txt"
    (fake / "bounds.py").write_text(f"open({str(planted)!r}, 'w').close()\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert bounds.isolated_refusal("type Alias = int\n") is None
    assert not planted.exists()


def test_finding_14_string_parts_are_counted_past_form_feeds() -> None:
    """Lines are counted as the parser counts them: form feeds do not hide a long
    concatenation from the bound."""
    text = "\x0c\n" * 5 + "x = " + '"a" ' * 1000 + "\n"
    reason = bounds.refusal(text, len(text))
    assert reason is not None and f"bound of {bounds.MAX_DEPTH} levels" in reason


def test_finding_14_file_past_the_node_bound_is_refused() -> None:
    """A small file with more syntax nodes than the bound (libcst's time and memory grow
    with them) is refused."""
    text = "x = [" + "a, " * (bounds.MAX_NODES + 1) + "]\n"
    assert len(text) < bounds.MAX_BYTES
    reason = bounds.refusal(text, len(text))
    assert reason is not None and f"past the bound of {bounds.MAX_NODES}" in reason
