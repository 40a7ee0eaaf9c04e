"""Write a plan into the target, all or nothing (`migrate.rollback` undoes it).

Apply and rollback go through one journaled transaction (:mod:`migrate.journal`): the files,
the state file and the key folder land together or not at all, whether the command fails,
is interrupted (Ctrl-C, SIGTERM) or is killed (the next command undoes the rest). The
state file records the before and after text of every file, which is what `rollback`
restores; every path a plan or a state file names must resolve inside the tree.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from migrate import __version__, emit, journal
from migrate.errors import ApplyRefused, Blocked, DirtyTree, StalePlan
from migrate.journal import Hook, Write
from migrate.plan import FileChange, Plan, stale_files
from migrate.state import Applied, State, read_state, state_path
from shims.keys import KeyFolder

WriteHook = Hook


@dataclass
class ApplyResult:
    written: list[str]
    keys_generated: bool


def dirty_files(root: Path) -> list[str]:
    """Uncommitted changes in the target's git work tree ([] outside git)."""
    try:
        result = subprocess.run(
            ["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, check=False
        )
    except OSError:
        return []
    if result.returncode != 0:
        return []
    ignored = f"{emit.STATE_DIR}/"
    return [line[3:] for line in result.stdout.splitlines() if not line[3:].startswith(ignored)]


def check_plan(plan: Plan, root: Path, allow_dirty: bool) -> None:
    root = root.resolve()
    if plan.blocked_by:
        raise Blocked(
            "blocked: the change would leave the server broken or half-migrated; nothing "
            "was written. Do this first, then plan again: " + "; ".join(plan.blocked_by)
        )
    if plan.kit_version != __version__:
        raise StalePlan(
            f"the plan was made by oauth-migrate {plan.kit_version}, this is {__version__}: "
            "plan again"
        )
    _check_paths(plan, root)
    changed = stale_files(plan, root) + [
        c.path for c in plan.changes if current(root, c.path, c.encoding) != c.before
    ]
    changed = sorted(set(changed))
    if changed:
        raise StalePlan(
            "the tree changed since the plan was made: " + ", ".join(changed) + "; plan again"
        )
    dirty = dirty_files(root)
    if dirty and not allow_dirty:
        raise DirtyTree(
            "uncommitted changes (commit them, or pass --allow-dirty): " + ", ".join(dirty[:10])
        )


def _check_paths(plan: Plan, root: Path) -> None:
    """Every file a plan writes lies inside the tree it was made for (a plan is a file a
    person can edit: it must not be a way to write elsewhere)."""
    root = root.resolve()
    if Path(plan.root).resolve() != root:
        raise StalePlan(f"the plan was made for {plan.root}, not {root}")
    try:
        journal.check_state_dirs(root)
    except journal.WriteError as refused:
        raise ApplyRefused(str(refused)) from None
    try:
        for change in plan.changes:
            journal.resolve_inside(root, change.path)
    except journal.WriteError as refused:
        raise StalePlan(f"the plan writes outside {root}: {refused}") from None
    phase = read_state(root).phase
    if plan.phase_from != phase:
        raise StalePlan(
            f"the plan starts from the {plan.phase_from} phase, the tree is in the {phase} "
            "phase: plan again"
        )


def apply_plan(plan: Plan, root: Path, *, write_hook: WriteHook | None = None) -> ApplyResult:
    """Write ``plan`` (already checked) into ``root``: all or nothing, journaled."""
    root = root.resolve()
    keys_dir = root / emit.STATE_DIR / "keys"
    generate = plan.generate_keys and not (keys_dir / "manifest.json").exists()
    writes = [_write(change) for change in plan.changes]
    writes.append(_state_write(root, plan, generate))
    transaction(root, writes, "create" if generate else None, write_hook)
    return ApplyResult([c.path for c in plan.changes], generate)


def _generate(folder: Path) -> None:
    """The key, in a folder that keeps itself out of version control wherever it is (the
    tree's .gitignore may not exist yet, or be restored by a rollback)."""
    KeyFolder(folder).generate()
    (folder / ".gitignore").write_text("*\n", encoding="utf-8")


def _write(change: FileChange) -> Write:
    return Write(change.path, change.before, change.after, change.encoding)


def transaction(
    root: Path,
    writes: list[Write],
    keys: journal.KeysAction,
    hook: WriteHook | None,
    aside: tuple[str, ...] = (),
) -> None:
    """journal.run with this kit's key generation. An OSError (a read-only tree, a full
    disk) propagates after the undo, naming the file, for the command to report."""
    journal.run(root, writes, keys=keys, make_keys=_generate, aside=aside, hook=hook)


def _state_write(root: Path, plan: Plan, generated: bool) -> Write:
    """The state file as one more write of the plan, so it lands with the rest or not."""
    state = read_state(root)
    files: dict[str, dict[str, str | None]] = {
        c.path: _recorded(c.before, c.after, c.encoding) for c in plan.changes
    }
    state.history.append(
        Applied(
            plan.phase_from,
            plan.phase_to,
            __version__,
            time.time(),
            files,
            generated,
            plan.store_persistent,
        )
    )
    state.phase = plan.phase_to
    return state_file_write(root, state)


def _recorded(before: str | None, after: str | None, encoding: str) -> dict[str, str | None]:
    texts: dict[str, str | None] = {"before": before, "after": after}
    if encoding != "utf-8":
        texts["encoding"] = encoding
    return texts


def state_file_write(root: Path, state: State | None) -> Write:
    """state.json replaced by ``state``, or deleted (None)."""
    path = state_path(root)
    rel = path.relative_to(root).as_posix()
    before = journal.read_text(path)
    return Write(rel, before, state.to_json() if state is not None else None)


def current(root: Path, rel: str, encoding: str) -> str | None:
    """The text of ``rel`` in the tree now (None when absent); a path outside the tree
    is refused, whoever named it."""
    try:
        return journal.current_text(journal.resolve_inside(root, rel), encoding)
    except journal.WriteError as refused:
        raise ApplyRefused(f"the state file names {rel}: {refused}") from None


__all__ = [
    "ApplyResult",
    "WriteHook",
    "apply_plan",
    "check_plan",
    "current",
    "dirty_files",
    "state_file_write",
    "transaction",
]
