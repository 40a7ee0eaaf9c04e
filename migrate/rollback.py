"""Undo the last apply or finalize byte for byte, in one journaled transaction.

The state file holds the before and after text of every file the last apply wrote; a
rollback writes the before texts back, refusing (exit 5) when any file differs from its
after text, since that would lose an edit made since. Undoing the first apply also sets
aside the key it generated and the runtime's own data, and removes the folders it made.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable
from pathlib import Path

from migrate import emit
from migrate.apply import WriteHook, current, state_file_write, transaction
from migrate.errors import EditedSinceApply, NothingToRollBack
from migrate.journal import Write
from migrate.state import Applied, State, read_state


def rollback(
    root: Path,
    *,
    write_hook: WriteHook | None = None,
    ask_key_removal: Callable[[], None] | None = None,
) -> Applied:
    """Undo the last apply byte for byte; refuses when its files were edited since.

    ``ask_key_removal`` is called first when the undone apply generated the signing key
    (the rollback deletes it); it refuses by raising."""
    root = root.resolve()
    state = read_state(root)
    if not state.history:
        raise NothingToRollBack("nothing to roll back: no apply is recorded here")
    last = state.history[-1]
    if last.keys_generated and ask_key_removal is not None:
        ask_key_removal()
    edited = [
        rel
        for rel, texts in sorted(last.files.items())
        if current(root, rel, last.encoding_of(rel)) != texts["after"]
    ]
    if edited:
        raise EditedSinceApply(
            "edited or deleted since the apply, so rollback would lose work: " + ", ".join(edited)
        )
    writes = [
        Write(rel, texts["after"], texts["before"], last.encoding_of(rel))
        for rel, texts in last.files.items()
    ]
    state.history.pop()
    state.phase = last.phase_from
    writes.append(state_file_write(root, state if state.history else None))
    transaction(root, writes, None, write_hook, _removed_by_rollback(root, last, state))
    _remove_emptied_dirs(root, [rel for rel, t in last.files.items() if t["before"] is None])
    if not state.history:
        _remove_empty(root / emit.STATE_DIR)
    return last


def _removed_by_rollback(root: Path, last: Applied, state: State) -> tuple[str, ...]:
    """The key the undone apply generated and, back to legacy, the runtime's own data
    (metrics, denylist): nothing in a legacy tree reads them, and the .gitignore that kept
    them out of version control is restored to its legacy text."""
    names = ["keys"] if last.keys_generated else []
    if not state.history:
        folder = root / emit.STATE_DIR
        names += sorted(p.name for p in folder.glob("*.sqlite3*") if p.is_file())
    return tuple(names)


def _remove_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):
        folder.rmdir()


def _remove_emptied_dirs(root: Path, created: list[str]) -> None:
    folders = {(root / rel).parent for rel in created}
    for folder in sorted(folders, key=lambda f: len(f.parts), reverse=True):
        pycache = folder / "__pycache__"
        if pycache.is_dir() and not pycache.is_symlink():
            shutil.rmtree(pycache, ignore_errors=True)
        _remove_empty(folder)


__all__ = ["rollback"]
