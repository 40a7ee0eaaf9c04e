"""Over every fixture and all codemods at once: what is written parses and stays local.

Hybrid cases are planned with every hybrid codemod; final cases are taken to the hybrid
phase with the real apply, then finalized. Every ``noop_*`` case gets no edit and no
manual step from its group's step, and its group's finder sees nothing in it.
"""

from __future__ import annotations

import difflib
import io
import tokenize
from collections import Counter
from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from migrate.codemods.final_gate import find_hybrid_resolves
from migrate.codemods.final_mint import STEP as FINAL_MINT
from migrate.codemods.final_mint import final_mint
from migrate.plan import Plan
from migrate.scan.apps import find_apps
from migrate.scan.deletes import find_deletes
from migrate.scan.gates import find_gates
from migrate.scan.metadata import find_metadata
from migrate.scan.minting import find_mints
from migrate.scan.providers import find_provider_servers
from migrate.scan.source import SourceFile, SourceTree
from tests.migrate.codemods.cases import (
    CODEMOD_STEPS,
    FINAL_STEPS,
    all_cases,
    copy_case,
    final_cases,
    is_final,
    manual_in,
    noop_cases,
    originals,
    plan_case,
    plan_final_case,
    rewritten,
    second_final_run,
    second_run,
)

CASES = all_cases()
IDS = [f"{group}/{case}" for group, case in CASES]
FINAL = final_cases()
FINAL_IDS = [f"{group}/{case}" for group, case in FINAL]
NOOPS = noop_cases()
NOOP_IDS = [f"{group}/{case}" for group, case in NOOPS]


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
    # ``return Starlette(...)`` becomes ``app = Starlette(...)``, the install, ``return app``.
    nodes += [(a.source, a.created) for a in find_apps(tree) if a.bind and not a.migrated]
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


def _assert_local(plan: Plan, edited: dict[str, set[int]]) -> None:
    """Every original line outside ``edited`` is still there, in order, unchanged; what
    was inserted is an import, a runtime call or a blank line."""
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
def test_lines_outside_edited_nodes_are_kept(group: str, case: str, tmp_path: Path) -> None:
    """Every original line outside the replaced nodes is still there, in order, unchanged."""
    plan = plan_case(group, case, tmp_path, CODEMOD_STEPS)
    _assert_local(plan, _edited_lines(tmp_path))


@pytest.mark.parametrize(("group", "case"), CASES, ids=IDS)
def test_planning_the_output_again_changes_nothing(group: str, case: str, tmp_path: Path) -> None:
    """After all four codemods are applied, planning them again changes nothing."""
    assert rewritten(second_run(group, case, tmp_path, CODEMOD_STEPS)) == {}


# -- final-phase cases -----------------------------------------------------------------


def _hybrid_resolve_lines(root: Path) -> dict[str, set[int]]:
    """File -> the lines of the hybrid resolves and mint fallbacks finalize replaces (found
    afresh)."""
    lines: dict[str, set[int]] = {}
    for source in SourceTree(root).files.values():
        positions = MetadataWrapper(source.module, unsafe_skip_copy=True).resolve(PositionProvider)
        mints = [edit.node for edit in final_mint(source).edits]
        for call in [*find_hybrid_resolves(source), *mints]:
            span = positions[call]
            lines.setdefault(source.rel, set()).update(range(span.start.line, span.end.line + 1))
    return lines


@pytest.mark.parametrize(("group", "case"), FINAL, ids=FINAL_IDS)
def test_every_finalized_file_parses_and_keeps_its_comments(
    group: str, case: str, tmp_path: Path
) -> None:
    """Every file finalize writes parses again and holds every comment of its hybrid text."""
    plan = plan_final_case(group, case, tmp_path)
    after = rewritten(plan)
    for path, before in originals(plan).items():
        cst.parse_module(after[path])
        assert not _comments(before) - _comments(after[path]), path


@pytest.mark.parametrize(("group", "case"), FINAL, ids=FINAL_IDS)
def test_finalize_keeps_lines_outside_the_hybrid_resolves(
    group: str, case: str, tmp_path: Path
) -> None:
    """Finalize replaces only the hybrid resolve calls; it adds only revoke and import lines."""
    plan = plan_final_case(group, case, tmp_path)
    _assert_local(plan, _hybrid_resolve_lines(tmp_path))


@pytest.mark.parametrize(("group", "case"), FINAL, ids=FINAL_IDS)
def test_finalizing_the_output_again_changes_nothing(group: str, case: str, tmp_path: Path) -> None:
    """After finalize's rewrites are written, planning finalize again changes no server file."""
    assert rewritten(second_final_run(group, case, tmp_path)) == {}


# -- no-op cases -----------------------------------------------------------------------


def _finder_sees(group: str, root: Path) -> list[object]:
    """What the group's finder picks up in the tree (install_runtime has none: it finds apps,
    and an app is what its no-op case holds)."""
    tree = SourceTree(root)
    found: dict[str, list[object]] = {
        "wrap_metadata": [*find_metadata(tree)[0], *find_metadata(tree)[1]],
        "mint_jwt": [*find_mints(tree)[0], *find_mints(tree)[1]],
        "hybrid_gate": [*find_gates(tree)[0], *find_gates(tree)[1]],
        "revoke_on_delete": list(find_deletes(tree)),
        "final_gate": [c for s in tree.files.values() for c in find_hybrid_resolves(s)],
        "final_mint": [e for s in tree.files.values() for e in final_mint(s).edits],
        "install_mcp": [*find_provider_servers(tree)[0], *find_provider_servers(tree)[1]],
    }
    return found.get(group, [])


def _case_files(root: Path) -> list[str]:
    return [p.relative_to(root).as_posix() for p in root.rglob("*.py") if ".oauth" not in str(p)]


@pytest.mark.parametrize(("group", "case"), NOOPS, ids=NOOP_IDS)
def test_every_noop_case_plans_no_edit_and_no_manual_step(
    group: str, case: str, tmp_path: Path
) -> None:
    """Code near a codemod's target gets no edit and no manual step from its step."""
    final = is_final(group, case)
    plan = plan_final_case(group, case, tmp_path) if final else plan_case(group, case, tmp_path)
    files = [f for f in _case_files(tmp_path) if not f.startswith("oauth_migration/")]
    assert files
    if final:
        assert FINAL_STEPS[group] not in [s.id for s in plan.steps]
        # A gate's no-op case: finalize switches the runtime and drops the mint's opaque
        # fallback, nothing else (a mint's no-op case still has its gate finalized).
        if FINAL_STEPS[group] != FINAL_MINT.id:
            mint_files = {f for s in plan.steps if s.id == FINAL_MINT.id for f in s.files}
            assert set(rewritten(plan)) <= mint_files
    else:
        assert plan.changes == []
    assert all(manual_in(plan, rel) == [] for rel in files)
    assert plan.blocked_by == []


@pytest.mark.parametrize(("group", "case"), NOOPS, ids=NOOP_IDS)
def test_every_noop_case_is_invisible_to_its_finder(group: str, case: str, tmp_path: Path) -> None:
    """The group's finder sees nothing in its no-op case (before any other step ran)."""
    assert _finder_sees(group, copy_case(group, case, tmp_path)) == []
