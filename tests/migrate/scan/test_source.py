"""The parsed tree's node index lives as long as the file that built it."""

from __future__ import annotations

import gc
from pathlib import Path

from migrate.scan import source as source_module
from migrate.scan.source import SourceTree
from migrate.scan.syntax import walk

MODULE = "def gate(token):\n    return TOKENS.get(token)\n"


def _indexed(tmp_path: Path) -> int:
    (tmp_path / "gate.py").write_text(MODULE, encoding="utf-8")
    tree = SourceTree(tmp_path)
    parsed = tree.files["gate.py"]
    function = parsed.module.body[0]
    assert parsed.parent(function) is parsed.module  # builds the index
    assert len(list(walk(function))) > 3
    return len(source_module._INDEX)


def test_the_index_goes_with_its_file(tmp_path: Path) -> None:
    gc.collect()
    before = len(source_module._INDEX)
    assert _indexed(tmp_path) > before
    gc.collect()
    assert len(source_module._INDEX) == before
