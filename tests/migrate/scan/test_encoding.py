"""PEP 263 sources and undecodable files (newcomer cases 6 and 6b).

A latin-1 file with a coding cookie is read in its encoding and written back in it; a file
that cannot be decoded is named in the plan, and blocks apply when it could hold a gate.
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from migrate.cli import cli
from migrate.planner import plan_hybrid
from migrate.scan.source import SourceTree
from tests.migrate.tree_support import copy_sample

COOKIE = "# -*- coding: latin-1 -*-\n"
COMMENT = "# Authentifizierung für den Server (Müller)\n"


def latin1_gate(root: Path, cookie: bool) -> bytes:
    """Rewrite the sample's bearer gate in latin-1 (not valid UTF-8), with or without a cookie."""
    auth = root / "sample_legacy" / "auth.py"
    text = (COOKIE if cookie else "") + COMMENT + auth.read_text(encoding="utf-8")
    auth.write_bytes(text.encode("latin-1"))
    return auth.read_bytes()


def test_case_6_latin1_file_with_a_cookie_is_read_in_its_encoding(tmp_path: Path) -> None:
    """A PEP 263 latin-1 source is decoded with its declared encoding and records it."""
    (tmp_path / "legacy.py").write_bytes((COOKIE + "NAME = 'Müller'\n").encode("latin-1"))
    source = SourceTree(tmp_path).files["legacy.py"]
    assert source.encoding == "iso-8859-1"
    assert "Müller" in source.text


def test_case_6b_latin1_gate_with_a_cookie_is_found_and_kept_in_latin1(tmp_path: Path) -> None:
    """The latin-1 bearer gate is found, and its change is written back in latin-1."""
    root = copy_sample(tmp_path / "project")
    latin1_gate(root, cookie=True)
    plan = plan_hybrid(root)
    assert any(f.kind == "gate" and f.where.startswith("sample_legacy/auth.py:")
               for f in plan.findings)  # fmt: skip
    change = next(c for c in plan.changes if c.path == "sample_legacy/auth.py")
    assert change.encoding == "iso-8859-1"
    assert change.after.startswith(COOKIE + COMMENT)  # the cookie stays on line 1
    change.after.encode(change.encoding)  # every character fits the declared encoding


def test_case_6b_undecodable_gate_file_is_named_in_the_plan(tmp_path: Path) -> None:
    """A gate file that is latin-1 with no cookie is a finding of kind unreadable."""
    root = copy_sample(tmp_path / "project")
    latin1_gate(root, cookie=False)
    plan = plan_hybrid(root)
    found = [f for f in plan.findings if f.kind == "unreadable"]
    assert [f.where for f in found] == ["sample_legacy/auth.py"]
    assert "utf-8" in found[0].detail


def test_case_6b_undecodable_gate_file_blocks_apply(tmp_path: Path) -> None:
    """Apply refuses (exit 6) and writes nothing while the gate file cannot be read."""
    root = copy_sample(tmp_path / "project")
    before = latin1_gate(root, cookie=False)
    app_before = (root / "sample_legacy" / "app.py").read_bytes()
    result = CliRunner().invoke(cli, ["apply", "--yes", str(root)])
    assert result.exit_code == 6, result.output
    assert "sample_legacy/auth.py" in result.output
    assert (root / "sample_legacy" / "auth.py").read_bytes() == before
    assert (root / "sample_legacy" / "app.py").read_bytes() == app_before


def test_case_6_undecodable_file_without_markers_is_only_noted(tmp_path: Path) -> None:
    """An undecodable file that could hold no mint, gate or metadata is noted, not blocking."""
    root = copy_sample(tmp_path / "project")
    (root / "sample_legacy" / "strings.py").write_bytes("GREETING = 'Grüße'\n".encode("latin-1"))
    plan = plan_hybrid(root)
    assert plan.blocked_by == []
    assert any("sample_legacy/strings.py" in note for note in plan.notes)
    assert not any(f.kind == "unreadable" for f in plan.findings)


def test_case_6_bad_coding_cookie_is_unreadable_with_its_reason(tmp_path: Path) -> None:
    """A cookie naming an unknown encoding makes the file unreadable, with that reason."""
    (tmp_path / "odd.py").write_bytes(b"# -*- coding: no-such-codec -*-\nBearer = 1\n")
    tree = SourceTree(tmp_path)
    assert "no-such-codec" in tree.unreadable["odd.py"].reason
    assert tree.unreadable["odd.py"].sensitive
