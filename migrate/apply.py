"""Write a plan into the target, all or nothing, and undo it byte for byte.

Every new text is first written to a temporary file beside its target; only then are the
temporary files moved into place, one ``os.replace`` each. A failure at any point puts back
what was already replaced, removes what was created and leaves the tree as it was. The
state file is written last, with the before and after text of every file, which is what
`rollback` restores.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from migrate import __version__, emit
from migrate.plan import FileChange, Plan, read_exact, stale_files
from migrate.state import STATE_FILE, Applied, State, read_state, state_path
from shims.keys import KeyFolder

WriteHook = Callable[[str], None]


class ApplyRefused(Exception):
    """Apply did nothing: a dirty tree, a stale plan, a plan of another kit version."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


EXIT_DIRTY = 3
EXIT_STALE = 4
EXIT_EDITED = 5
EXIT_BLOCKED = 6


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
    if plan.blocked_by:
        raise ApplyRefused(
            "the runtime cannot be installed automatically, and the code changes would "
            "stop the server without it; do this first, then plan again: "
            + "; ".join(plan.blocked_by),
            EXIT_BLOCKED,
        )
    if plan.kit_version != __version__:
        raise ApplyRefused(
            f"the plan was made by oauth-migrate {plan.kit_version}, this is {__version__}: "
            "plan again",
            EXIT_STALE,
        )
    _check_paths(plan, root)
    changed = stale_files(plan, root) + [
        c.path for c in plan.changes if _current(root / c.path) != c.before
    ]
    if changed:
        raise ApplyRefused(
            "the tree changed since the plan was made: " + ", ".join(changed) + "; plan again",
            EXIT_STALE,
        )
    dirty = dirty_files(root)
    if dirty and not allow_dirty:
        raise ApplyRefused(
            "uncommitted changes (commit them, or pass --allow-dirty): " + ", ".join(dirty[:10]),
            EXIT_DIRTY,
        )


def _check_paths(plan: Plan, root: Path) -> None:
    """Every file a plan writes lies inside the tree it was made for (a plan is a file a
    person can edit: it must not be a way to write elsewhere)."""
    root = root.resolve()
    if Path(plan.root).resolve() != root:
        raise ApplyRefused(f"the plan was made for {plan.root}, not {root}", EXIT_STALE)
    for change in plan.changes:
        target = (root / change.path).resolve()
        if Path(change.path).is_absolute() or not target.is_relative_to(root):
            raise ApplyRefused(f"the plan writes outside {root}: {change.path}", EXIT_STALE)


def apply_plan(plan: Plan, root: Path, *, write_hook: WriteHook | None = None) -> ApplyResult:
    """Write ``plan`` (already checked) into ``root``; all or nothing."""
    root = root.resolve()
    state_dir = root / emit.STATE_DIR
    had_state_dir = state_dir.exists()
    keys_dir = state_dir / "keys"
    generated = False
    if plan.generate_keys and not (keys_dir / "manifest.json").exists():
        KeyFolder(keys_dir).generate()
        generated = True
    try:
        _write_all(root, [*plan.changes, _state_change(root, plan, generated)], write_hook)
    except BaseException:
        if generated:
            shutil.rmtree(keys_dir, ignore_errors=True)
        if not had_state_dir:
            _remove_empty(state_dir)
        raise
    return ApplyResult([c.path for c in plan.changes], generated)


def _write_all(root: Path, changes: list[FileChange], hook: WriteHook | None) -> None:
    staged: list[tuple[FileChange, Path]] = []
    created_dirs: list[Path] = []
    replaced: list[FileChange] = []
    try:
        for change in changes:
            target = root / change.path
            created_dirs += _make_parents(target.parent)
            staged.append((change, _stage(target, change.after)))
        for change, temporary in staged:
            if hook is not None:
                hook(change.path)
            os.replace(temporary, root / change.path)
            replaced.append(change)
    except BaseException:
        for change in reversed(replaced):
            _restore(root / change.path, change.before)
        for _, temporary in staged:
            temporary.unlink(missing_ok=True)
        for folder in reversed(created_dirs):
            _remove_empty(folder)
        raise


def _make_parents(folder: Path) -> list[Path]:
    missing = []
    current = folder
    while not current.exists():
        missing.append(current)
        current = current.parent
    folder.mkdir(parents=True, exist_ok=True)
    return list(reversed(missing))


def _stage(target: Path, text: str) -> Path:
    mode = target.stat().st_mode & 0o777 if target.exists() else 0o644
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
        out.write(text)
    os.chmod(name, mode)
    return Path(name)


def _restore(path: Path, before: str | None) -> None:
    if before is None:
        path.unlink(missing_ok=True)
    else:
        temporary = _stage(path, before)
        os.replace(temporary, path)


def _remove_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):
        folder.rmdir()


def _state_change(root: Path, plan: Plan, generated: bool) -> FileChange:
    """The state file as one more write of the plan, so it lands with the rest or not."""
    state = read_state(root)
    files: dict[str, dict[str, str | None]] = {
        c.path: {"before": c.before, "after": c.after} for c in plan.changes
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
    path = state_path(root)
    before = read_exact(path) if path.exists() else None
    return FileChange(path.relative_to(root).as_posix(), before, state.to_json())


def _write_state(root: Path, state: State) -> None:
    path = state_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.replace(_stage(path, state.to_json()), path)


# -- rollback --------------------------------------------------------------------------


def rollback(root: Path) -> Applied:
    """Undo the last apply byte for byte; refuses when its files were edited since."""
    root = root.resolve()
    state = read_state(root)
    if not state.history:
        raise ApplyRefused("nothing to roll back: no apply is recorded here", 1)
    last = state.history[-1]
    edited = [
        rel for rel, texts in sorted(last.files.items()) if _current(root / rel) != texts["after"]
    ]
    if edited:
        raise ApplyRefused(
            "edited since the apply, so rollback would lose work: " + ", ".join(edited),
            EXIT_EDITED,
        )
    for rel, texts in last.files.items():
        _restore(root / rel, texts["before"])
    _remove_emptied_dirs(root, [rel for rel, t in last.files.items() if t["before"] is None])
    if last.keys_generated:
        shutil.rmtree(root / emit.STATE_DIR / "keys", ignore_errors=True)
    state.history.pop()
    state.phase = last.phase_from
    if state.history:
        _write_state(root, state)
    else:
        state_path(root).unlink(missing_ok=True)
        _remove_empty(root / emit.STATE_DIR)
    return last


def _current(path: Path) -> str | None:
    try:
        return read_exact(path)
    except FileNotFoundError:
        return None
    except (UnicodeDecodeError, IsADirectoryError):
        return "\0unreadable"


def _remove_emptied_dirs(root: Path, created: list[str]) -> None:
    folders = {(root / rel).parent for rel in created}
    for folder in sorted(folders, key=lambda f: len(f.parts), reverse=True):
        pycache = folder / "__pycache__"
        if pycache.is_dir():
            shutil.rmtree(pycache, ignore_errors=True)
        _remove_empty(folder)


__all__ = [
    "EXIT_DIRTY",
    "EXIT_EDITED",
    "EXIT_STALE",
    "STATE_FILE",
    "ApplyRefused",
    "ApplyResult",
    "apply_plan",
    "check_plan",
    "rollback",
]
