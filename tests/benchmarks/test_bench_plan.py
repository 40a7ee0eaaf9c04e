"""The plan benchmark's helpers: the generated large module and the measured child run."""

from __future__ import annotations

import ast
import sys

from benchmarks.bench_plan import run_child, skip_note, token_module
from migrate.scan import bounds


def test_token_module_reaches_the_size_asked() -> None:
    """The module is at least the size asked, and at most one function past it."""
    text = token_module(50_000)
    assert 50_000 <= len(text.encode("utf-8")) < 51_000


def test_token_module_is_python_holding_the_common_marker() -> None:
    """The module parses, and holds the token text the finders look for."""
    text = token_module(10_000)
    ast.parse(text)
    assert "access_token" in text
    assert "bearer" in text


def test_token_module_under_max_bytes_passes_every_bound() -> None:
    """At 900 KB the module is read, not refused: the benchmark shows what reading costs."""
    text = token_module(900_000)
    assert bounds.refusal(text, len(text.encode("utf-8"))) is None


def test_skip_note_is_the_last_line_naming_the_file_not_parsed() -> None:
    """The manual step (after the finding) is the note; other files' lines are not."""
    output = "\n".join(
        [
            "  unreadable big.py  5 bytes: not parsed",
            "  other.py: not parsed",
            "  big.py: 5 bytes: not parsed; it may hold a token mint",
        ]
    )
    assert skip_note(output, "big.py") == "big.py: 5 bytes: not parsed; it may hold a token mint"
    assert skip_note("nothing here", "big.py") is None


def test_run_child_gives_exit_code_output_and_its_peak_rss() -> None:
    """The child's own exit code, stdout and stderr, and a peak RSS above zero."""
    code = "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"
    run = run_child([sys.executable, "-c", code])
    assert (run.exit_code, run.stdout, run.stderr) == (3, "out\n", "err\n")
    assert run.max_rss_kb > 0
