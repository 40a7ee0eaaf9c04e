"""Over every fixture and all four codemods at once: what is written parses and stays local."""

from __future__ import annotations

import difflib
import io
import tokenize
from collections import Counter
from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from migrate.scan.gates import find_gates
from migrate.scan.metadata import find_metadata
from migrate.scan.minting import find_mints
from migrate.scan.providers import find_provider_servers
from migrate.scan.source import SourceFile, SourceTree
from tests.migrate.codemods.cases import (
    CODEMOD_STEPS,
    all_cases,
    originals,
    plan_case,
    rewritten,
    second_run,
)

CASES = all_cases()
IDS = [f"{group}/{case}" for group, case in CASES]


def _comments(text: str) -> Counter[str]:
    tokens = tokenize.generate_tokens(io.StringIO(text).readline)
    return Counter(t.string for t in tokens if t.type == tokenize.COMMENT)


@pytest.mark.parametrize(("group", "case"), CASES, ids=IDS)
def test_every_rewritten_file_parses(group: str, case: str, tmp_path: Path) -> None:
    """Every file the codemods write parses again with libcst."""
    for text in rewritten(plan_case(group, case, tmp_path, CODEMOD_STEPS)).values():
        cst.parse_module(text)


@pytest.mark.parametrize(("group", "case"), CASES, ids=IDS)
def test_every_comment_is_kept(group: str, case: str, tmp_path: Path) -> None:
    """Every comment of an original file is still in its rewritten text, as often as before."""
    plan = plan_case(group, case, tmp_path, CODEMOD_STEPS)
    after = rewritten(plan)
    for path, before in originals(plan).items():
        assert not _comments(before) - _comments(after[path]), path


def _edited_lines(root: Path) -> dict[str, set[int]]:
    """File -> the lines of the nodes the codemods replace (found afresh by the finders)."""
    tree = SourceTree(root)
    nodes: list[tuple[SourceFile, cst.CSTNode]] = []
    producers, _ = find_metadata(tree)
    nodes += [(p.source, node) for p in producers for node in p.wrap]
    nodes += [(m.source, m.expression) for m in find_mints(tree)[0] if not m.migrated]
    for gate in find_gates(tree)[0]:
        if gate.lookup is not None:
            nodes.append((gate.source, gate.lookup.statement))
            if gate.lookup.cursor is not None:
                nodes.append((gate.source, gate.lookup.cursor))
    for server in find_provider_servers(tree)[0]:
        nodes += [(m.source, m.expression) for m in server.mints if not m.migrated]
        lookup = server.gate.lookup if server.gate is not None else None
        if server.gate is not None and lookup is not None:
            nodes.append((server.gate.source, lookup.statement))
    lines: dict[str, set[int]] = {}
    for source, node in nodes:
        positions = MetadataWrapper(source.module, unsafe_skip_copy=True).resolve(PositionProvider)
        span = positions[node]
        lines.setdefault(source.rel, set()).update(range(span.start.line, span.end.line + 1))
    return lines


def _is_added_line(line: str) -> bool:
    """What a codemod may add outside a replaced node: imports, the install call, blanks."""
    stripped = line.strip()
    return not stripped or "oauth_migration" in stripped or stripped.startswith("from ")


@pytest.mark.parametrize(("group", "case"), CASES, ids=IDS)
def test_lines_outside_edited_nodes_are_kept(group: str, case: str, tmp_path: Path) -> None:
    """Every original line outside the replaced nodes is still there, in order, unchanged."""
    plan = plan_case(group, case, tmp_path, CODEMOD_STEPS)
    edited = _edited_lines(tmp_path)
    after = rewritten(plan)
    for path, before in originals(plan).items():
        old, new = before.splitlines(), after[path].splitlines()
        matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                continue
            lost = set(range(i1 + 1, i2 + 1)) - edited.get(path, set())
            assert not lost, (path, [old[i - 1] for i in sorted(lost)])
            if tag == "insert":
                assert all(_is_added_line(line) for line in new[j1:j2]), (path, new[j1:j2])


@pytest.mark.parametrize(("group", "case"), CASES, ids=IDS)
def test_planning_the_output_again_changes_nothing(group: str, case: str, tmp_path: Path) -> None:
    """After all four codemods are applied, planning them again changes nothing."""
    assert rewritten(second_run(group, case, tmp_path, CODEMOD_STEPS)) == {}
