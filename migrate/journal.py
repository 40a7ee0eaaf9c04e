"""Multi-file writes as journaled transactions: a tree is either unchanged or fully changed.

One transaction (:func:`run`):

1. the journal ``.oauth-migration.journal`` is written beside the tree's files (atomically,
   fsynced) with every path the transaction touches, its text before (``null``: absent),
   its encoding, the folders it may create and what it does to the key folder;
2. every new text is staged in a temporary file beside its target (a name the journal
   implies), fsynced, then moved into place with one ``os.replace`` each;
3. the key folder is made (apply), or the key folder and runtime data are set aside
   (rollback);
4. the journal is deleted: that unlink is the commit point.

A failure, Ctrl-C or SIGTERM before 4 is undone at once, with both signals held off while
undoing. A process killed outright leaves the journal, and :func:`recover`, which every
command runs before it reads the tree's state, puts back every file as the journal says
and removes whatever the transaction created. Undoing is idempotent, so an interrupted
recovery is finished by the next one.

Paths are checked before anything is written: relative, no ``..``, and resolving (symlinks
followed) inside the tree; a symlinked server file is written through, so the link stays a
link. The state folder and the key folder must not be symlinks at all.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from types import FrameType
from typing import Any, Literal

from migrate.emit import STATE_DIR
from migrate.exit_codes import Exit, MigrateError

JOURNAL = ".oauth-migration.journal"
ASIDE = ".removed"
TMP_SUFFIX = ".oauth-migrate-tmp"

Hook = Callable[[str], None]
KeysAction = Literal["create"] | None


class WriteError(MigrateError):
    """A write was refused or failed; the tree is as it was before the command."""


class Interrupted(KeyboardInterrupt):
    """SIGTERM during a transaction, raised like Ctrl-C so the same undo runs."""


@dataclass(frozen=True)
class Write:
    path: str  # relative, POSIX separators
    before: str | None  # None: the file does not exist before
    after: str | None  # None: the file is deleted
    encoding: str = "utf-8"


@dataclass
class Journal:
    writes: list[Write]
    created_dirs: list[str] = field(default_factory=list)
    keys: KeysAction = None
    keys_entries_before: list[str] = field(default_factory=list)
    aside: list[str] = field(default_factory=list)  # names in the state folder to remove

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Journal:
        data: dict[str, Any] = json.loads(text)
        data["writes"] = [Write(**w) for w in data["writes"]]
        return cls(**data)


# -- paths -------------------------------------------------------------------------------


def check_relative(rel: str) -> None:
    """A path a plan, a state file or a journal may name: relative and without ``..``."""
    pure = PurePosixPath(rel)
    if not rel or "\\" in rel or "\0" in rel or pure.is_absolute() or ".." in pure.parts:
        raise WriteError(f"refusing a path outside the tree: {rel!r}", Exit.STALE)


def resolve_inside(root: Path, rel: str) -> Path:
    """The real file ``rel`` names (symlinks followed), which must lie inside ``root``."""
    check_relative(rel)
    target = (root / rel).resolve()
    if not target.is_relative_to(root):
        raise WriteError(f"{rel} leads outside {root} (a symlink): refusing to write it")
    return target


def check_state_dirs(root: Path) -> None:
    """Finding 5: a committed symlink must not steer the state or a private key elsewhere."""
    for rel in (STATE_DIR, f"{STATE_DIR}/keys"):
        if (root / rel).is_symlink():
            raise WriteError(
                f"{root / rel} is a symlink: the kit writes its state and private key only "
                "into a real folder inside the tree; replace the link with a folder"
            )


def _targets(root: Path, writes: list[Write]) -> list[tuple[Write, Path]]:
    """Each write with its real target; two writes of one real file must agree (a symlink
    and its target are the same file: written once, and the link stays a link)."""
    seen: dict[Path, Write] = {}
    targets = []
    for write in writes:
        target = resolve_inside(root, write.path)
        if target in seen:
            if seen[target].after != write.after:
                raise WriteError(f"{write.path} and {seen[target].path} are one file (a symlink)"
                                 " that the change would write twice, differently")  # fmt: skip
            continue
        seen[target] = write
        targets.append((write, target))
    return targets


def _missing_dirs(root: Path, targets: list[tuple[Write, Path]]) -> list[str]:
    missing: list[str] = []
    for write, target in targets:
        if write.after is None:
            continue
        current = target.parent
        while not current.exists() and current != root:
            rel = current.relative_to(root).as_posix()
            if rel not in missing:
                missing.append(rel)
            current = current.parent
    return sorted(missing, key=lambda rel: len(PurePosixPath(rel).parts))


# -- files -------------------------------------------------------------------------------


def read_text(path: Path, encoding: str = "utf-8") -> str | None:
    """A file's text as it is on disk (no newline translation); None when absent."""
    try:
        return path.read_bytes().decode(encoding)
    except FileNotFoundError:
        return None


def _current(path: Path, encoding: str) -> str | None:
    """The text now, or a marker that matches no text when it cannot be decoded."""
    try:
        return read_text(path, encoding)
    except (UnicodeDecodeError, IsADirectoryError):
        return "\0unreadable"


def _temporary(target: Path) -> Path:
    return target.with_name(f".{target.name}{TMP_SUFFIX}")


def _put(target: Path, text: str, encoding: str, mode: int | None = None) -> None:
    """Write ``text`` to ``target`` through a fsynced temporary file and one rename."""
    if mode is None:
        mode = target.stat().st_mode & 0o777 if target.exists() else 0o644
    temporary = _temporary(target)
    # A planted file or symlink under the temporary name is replaced, never written through.
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(text.encode(encoding))
        out.flush()
        os.fsync(out.fileno())
    os.chmod(temporary, mode)
    os.replace(temporary, target)


def _apply_one(target: Path, write: Write) -> None:
    if write.after is None:
        target.unlink(missing_ok=True)
    else:
        _put(target, write.after, write.encoding)


# -- the transaction ---------------------------------------------------------------------


def run(
    root: Path,
    writes: list[Write],
    *,
    keys: KeysAction = None,
    make_keys: Callable[[Path], None] | None = None,
    aside: tuple[str, ...] = (),
    hook: Hook | None = None,
) -> None:
    """Write ``writes``, make the key folder (``keys="create"``) and remove the state
    folder's entries named in ``aside``: all or nothing."""
    root = root.resolve()
    check_state_dirs(root)
    targets = _targets(root, writes)
    keys_dir = root / STATE_DIR / "keys"
    journal = Journal(
        [w for w, _ in targets],
        _missing_dirs(root, targets),
        keys,
        sorted(p.name for p in keys_dir.iterdir()) if keys_dir.is_dir() else [],
        [name for name in aside if (root / STATE_DIR / name).exists()],
    )
    step = hook or (lambda label: None)
    with _sigterm_raises():
        try:
            _write_journal(root, journal)
            step("journal")
            _forward(root, journal, targets, make_keys, step)
            step("commit")
            _journal_path(root).unlink()
        except BaseException:
            with _signals_held():
                _undo(root, journal)
            raise
    shutil.rmtree(root / STATE_DIR / ASIDE, ignore_errors=True)


def _forward(
    root: Path,
    journal: Journal,
    targets: list[tuple[Write, Path]],
    make_keys: Callable[[Path], None] | None,
    step: Hook,
) -> None:
    for rel in journal.created_dirs:
        (root / rel).mkdir(exist_ok=True)
    for write, target in targets:
        step(f"write {write.path}")
        _apply_one(target, write)
    if journal.keys == "create" and make_keys is not None:
        step("keys")
        make_keys(root / STATE_DIR / "keys")
    for name in journal.aside:
        step(f"remove {STATE_DIR}/{name}")
        (root / STATE_DIR / ASIDE).mkdir(exist_ok=True)
        os.replace(root / STATE_DIR / name, root / STATE_DIR / ASIDE / name)


def _journal_path(root: Path) -> Path:
    return root / JOURNAL


def _write_journal(root: Path, journal: Journal) -> None:
    _put(_journal_path(root), journal.to_json(), "utf-8", 0o600)


def _undo(root: Path, journal: Journal) -> None:
    """Put every file back as the journal says; remove what the transaction made."""
    for write in reversed(journal.writes):
        target = (root / write.path).resolve()
        if not target.is_relative_to(root):
            continue
        _temporary(target).unlink(missing_ok=True)
        if _current(target, write.encoding) == write.before:
            continue
        if write.before is None:
            target.unlink(missing_ok=True)
        else:
            _put(target, write.before, write.encoding)
    _undo_keys(root, journal)
    for rel in reversed(journal.created_dirs):
        with contextlib.suppress(OSError):
            (root / rel).rmdir()
    _journal_path(root).unlink(missing_ok=True)
    _temporary(_journal_path(root)).unlink(missing_ok=True)


def _undo_keys(root: Path, journal: Journal) -> None:
    keys_dir = root / STATE_DIR / "keys"
    if journal.keys == "create" and keys_dir.is_dir() and not keys_dir.is_symlink():
        for entry in keys_dir.iterdir():
            if entry.name not in journal.keys_entries_before:
                entry.unlink()
        if not journal.keys_entries_before:
            with contextlib.suppress(OSError):
                keys_dir.rmdir()
    for name in journal.aside:
        kept = root / STATE_DIR / ASIDE / name
        if kept.exists() and not (root / STATE_DIR / name).exists():
            os.replace(kept, root / STATE_DIR / name)
    with contextlib.suppress(OSError):
        (root / STATE_DIR / ASIDE).rmdir()


def recover(root: Path) -> bool:
    """Undo a transaction a killed process left unfinished; True when there was one."""
    root = root.resolve()
    path = _journal_path(root)
    if not path.is_file():
        # A committed rollback killed before it deleted what it had set aside.
        shutil.rmtree(root / STATE_DIR / ASIDE, ignore_errors=True)
        _temporary(path).unlink(missing_ok=True)
        return False
    try:
        journal = Journal.from_json(path.read_text(encoding="utf-8"))
        for write in journal.writes:
            check_relative(write.path)
    except (ValueError, TypeError, KeyError, WriteError) as problem:
        raise WriteError(
            f"{path}: unreadable journal of an interrupted write ({problem}); compare the "
            "tree with version control, then delete the journal"
        ) from None
    with _signals_held():
        _undo(root, journal)
    print(
        f"migrate: an interrupted write was undone ({len(journal.writes)} files put back "
        "as they were)",
        file=sys.stderr,
    )
    return True


# -- signals -----------------------------------------------------------------------------


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """SIGTERM behaves as Ctrl-C while files are being written, so the undo runs."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise Interrupted()

    with _handlers(interrupt, (signal.SIGTERM,)):
        yield


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait until the undo is done, then take effect."""
    pending: list[int] = []

    def remember(signum: int, frame: FrameType | None) -> None:
        pending.append(signum)

    with _handlers(remember, (signal.SIGINT, signal.SIGTERM)):
        yield
    if pending:
        raise Interrupted()


@contextlib.contextmanager
def _handlers(
    handler: Callable[[int, FrameType | None], None], signums: tuple[int, ...]
) -> Iterator[None]:
    try:
        previous = {signum: signal.signal(signum, handler) for signum in signums}
    except ValueError:  # not the main thread: signals cannot be handled here
        yield
        return
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
