"""Fixture cases of the codemod and finder tests: copy one into a tree, plan it, apply it.

A case is ``fixtures/<group>/<case>.py.txt`` (one module) or ``fixtures/<group>/<case>/``
(a small tree of ``*.py.txt`` files); it is copied with ``.py.txt`` renamed to ``.py``.
Its rewritten files are snapshotted under ``snapshots/<group>/``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import libcst as cst
from pytest_snapshot.plugin import Snapshot

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
SUFFIX = ".py.txt"


def fixture(group: str, case: str) -> Path:
    single = FIXTURES / group / f"{case}{SUFFIX}"
    return single if single.exists() else FIXTURES / group / case


def all_cases() -> list[tuple[str, str]]:
    """Every (group, case) under ``fixtures/``, in a stable order."""
    found = []
    for group in sorted(STEPS):
        for entry in sorted((FIXTURES / group).iterdir()):
            found.append((group, entry.name.removesuffix(SUFFIX)))
    return found


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
    plan = plan_case(group, case, root)
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
