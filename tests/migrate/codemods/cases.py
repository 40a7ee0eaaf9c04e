"""Fixture cases of the codemod and finder tests: copy one into a tree, plan it, apply it.

A case is ``fixtures/<group>/<case>.py.txt`` (one module) or ``fixtures/<group>/<case>/``
(a small tree of ``*.py.txt`` files); it is copied with ``.py.txt`` renamed to ``.py``.
Its rewritten files are snapshotted under ``snapshots/<group>/``.

A final-phase case (every case of a group whose step runs only at finalize, and the
``final_*`` cases of a group whose step runs in both phases) is a legacy tree taken to
the hybrid phase by the real planner and :func:`migrate.apply.apply_plan`, then
finalized with :func:`migrate.finalizer.plan_final`. A ``noop_*`` case is code near the
codemod's target that must get no edit and no manual step.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import libcst as cst
from pytest_snapshot.plugin import Snapshot

from migrate import steps
from migrate.apply import apply_plan
from migrate.finalizer import plan_final
from migrate.plan import Plan
from migrate.planner import plan_hybrid
from migrate.scan.source import SourceTree
from migrate.steps import codemod_steps

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
SNAPSHOTS = HERE / "snapshots"
# Fixture group (the codemod module's name) -> the plan step it exercises: every
# registered hybrid codemod that has a fixture folder.
STEPS = {
    group: step.id
    for group, step in codemod_steps().items()
    if "hybrid" in step.phases and (FIXTURES / group).is_dir()
}
CODEMOD_STEPS = tuple(STEPS.values())
# Fixture group -> the finalize step it exercises.
FINAL_STEPS = {
    group: step.id
    for group, step in codemod_steps().items()
    if "final" in step.phases and (FIXTURES / group).is_dir()
}
SUFFIX = ".py.txt"
FINAL_PREFIX = "final_"
NOOP_PREFIX = "noop_"


def fixture(group: str, case: str) -> Path:
    single = FIXTURES / group / f"{case}{SUFFIX}"
    return single if single.exists() else FIXTURES / group / case


def is_final(group: str, case: str) -> bool:
    """Whether the case is finalized (rather than planned for `apply`)."""
    return group not in STEPS or case.startswith(FINAL_PREFIX)


def _cases_of(groups: dict[str, str]) -> list[tuple[str, str]]:
    found = []
    for group in sorted(groups):
        for entry in sorted((FIXTURES / group).iterdir()):
            found.append((group, entry.name.removesuffix(SUFFIX)))
    return found


def all_cases() -> list[tuple[str, str]]:
    """Every hybrid-phase (group, case) under ``fixtures/``, in a stable order."""
    return [(g, c) for g, c in _cases_of(STEPS) if not is_final(g, c)]


def final_cases() -> list[tuple[str, str]]:
    """Every final-phase (group, case) under ``fixtures/``, in a stable order."""
    return [(g, c) for g, c in _cases_of(FINAL_STEPS) if is_final(g, c)]


def noop_cases() -> list[tuple[str, str]]:
    """Every ``noop_*`` case of every group, hybrid or final."""
    every = _cases_of(STEPS) + _cases_of(FINAL_STEPS)
    return sorted({(g, c) for g, c in every if c.startswith(NOOP_PREFIX)})


def copy_case(group: str, case: str, root: Path) -> Path:
    """Copy the case into ``root`` as ``.py`` files; returns ``root``."""
    source = fixture(group, case)
    files = [source] if source.is_file() else sorted(source.rglob(f"*{SUFFIX}"))
    for path in files:
        rel = path.name if source.is_file() else path.relative_to(source).as_posix()
        target = root / rel.removesuffix(".txt")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return root


def plan_case(group: str, case: str, root: Path, steps: tuple[str, ...] = ()) -> Plan:
    """The plan of the case copied into ``root``, restricted to the group's codemod."""
    copy_case(group, case, root)
    return plan_hybrid(root, only=steps or (STEPS[group],))


def to_hybrid(group: str, case: str, root: Path) -> Path:
    """The case copied into ``root`` and applied as `migrate apply` would (keys, runtime,
    state); a ``final_*`` case of a two-phase step is applied without that step, as an
    older kit that lacked it would have left the tree."""
    copy_case(group, case, root)
    step = FINAL_STEPS[group]
    # A case is one module, no project around it: its dependencies are not the point.
    skip = (steps.REQUIREMENTS.id, *((step,) if step in STEPS.values() else ()))
    plan = plan_hybrid(root, skip=skip)
    assert plan.blocked_by == [], plan.blocked_by
    apply_plan(plan, root)
    return root


def plan_final_case(group: str, case: str, root: Path) -> Plan:
    """The finalize plan of the case, taken to the hybrid phase in ``root`` first."""
    return plan_final(to_hybrid(group, case, root))


def second_final_run(group: str, case: str, root: Path) -> Plan:
    """Finalize the case, write its rewritten server files, and plan finalize again."""
    apply(plan_final_case(group, case, root), root)
    return plan_final(root)


def rewritten(plan: Plan) -> dict[str, str]:
    """Path -> new text of every changed file of the server (not the emitted runtime)."""
    return {c.path: c.after for c in plan.changes if not c.emitted}


def originals(plan: Plan) -> dict[str, str]:
    return {c.path: c.before or "" for c in plan.changes if not c.emitted}


def apply(plan: Plan, root: Path) -> None:
    """Write the planned server files, as `migrate apply` would (the runtime aside)."""
    for path, text in rewritten(plan).items():
        (root / path).write_text(text, encoding="utf-8")


def manual_in(plan: Plan, rel: str) -> list[dict[str, str]]:
    """The plan's manual steps located in file ``rel``."""
    return [m for m in plan.manual if m.where.startswith(f"{rel}:")]


def assert_snapshots(snapshot: Snapshot, group: str, case: str, plan: Plan) -> None:
    """The case's rewritten files match ``snapshots/<group>/``: exactly these files, this text.

    A one-module case has one snapshot, ``<case>.after.py.txt``; a tree case a folder
    ``<case>/`` holding ``<path>.after.py.txt`` for each changed file and no other.
    """
    snapshot.snapshot_dir = SNAPSHOTS / group
    changed = rewritten(plan)
    assert changed, f"{group}/{case}: nothing was rewritten"
    if fixture(group, case).is_file():
        assert list(changed) == [f"{case}.py"]
        snapshot.assert_match(changed[f"{case}.py"], f"{case}.after{SUFFIX}")
        return
    tree: dict[str, Any] = {}
    for path, text in changed.items():
        *folders, name = path.split("/")
        level = tree
        for folder in folders:
            level = level.setdefault(folder, {})
        level[f"{name.removesuffix('.py')}.after{SUFFIX}"] = text
    snapshot.assert_match_dir(tree, case)


def check_rewrite(snapshot: Snapshot, group: str, case: str, root: Path) -> Plan:
    """Plan the case with its group's codemod, compare with the snapshots; the plan."""
    plan = (
        plan_final_case(group, case, root)
        if is_final(group, case)
        else plan_case(group, case, root)
    )
    assert_snapshots(snapshot, group, case, plan)
    return plan


def second_run(group: str, case: str, root: Path, steps: tuple[str, ...] = ()) -> Plan:
    """Plan the case, apply it, and plan the applied tree again with the same steps."""
    apply(plan_case(group, case, root, steps), root)
    return plan_hybrid(root, only=steps or (STEPS[group],))


def source_tree(group: str, case: str, root: Path, applied: bool = False) -> SourceTree:
    """The case as the finders see it; ``applied``: after its group's codemod was applied."""
    if applied:
        apply(plan_case(group, case, root), root)
    else:
        copy_case(group, case, root)
    return SourceTree(root)


def code(node: cst.CSTNode) -> str:
    return cst.Module([]).code_for_node(node)
