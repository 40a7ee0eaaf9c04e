"""#12 item 10: a plan agrees with itself: "nothing found" never stands over findings."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from migrate.cli import cli

# A gate-looking file that cannot be decoded (latin-1 without a PEP 263 line).
UNREADABLE = b'def gate(h):\n    return h.removeprefix("Bearer ")  # caf\xe9\n'


def test_nothing_found_over_an_unreadable_file_shows_it_and_blocks(tmp_path: Path) -> None:
    """No recipe matched, but a file that may hold the gate could not be read: the plan
    lists it under Findings, is blocked, and does not say "nothing to migrate"."""
    (tmp_path / "auth.py").write_bytes(UNREADABLE)
    result = CliRunner().invoke(cli, ["plan", str(tmp_path)])
    assert result.exit_code == 6, result.output
    assert "nothing to migrate" not in result.output
    assert "Findings\n  unreadable auth.py" in result.output
    assert "could not be read (under Findings) and may hold one" in result.output


def test_nothing_found_in_an_empty_tree_is_one_line(tmp_path: Path) -> None:
    """A tree without any server code: one line, exit 0."""
    (tmp_path / "tool.py").write_text("print('hello')\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["plan", str(tmp_path)])
    assert result.exit_code == 0
    assert result.output.splitlines() == [
        f"no legacy authorization server found under {tmp_path.resolve()}: nothing to migrate."
    ]
