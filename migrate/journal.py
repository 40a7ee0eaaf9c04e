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
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path, PurePosixPath
from types import FrameType
from typing import Any, Literal

from migrate.emit import STATE_DIR
from migrate.errors import MigrateError
from migrate.exit_codes import Exit
from migrate.plan import known_encoding

JOURNAL = ".oauth-migration.journal"
ASIDE = ".removed"
TMP_SUFFIX = ".oauth-migrate-tmp"

Hook = Callable[[str], None]
KeysAction = Literal["create"] | None


class WriteError(MigrateError):
    """A write was refused or failed; the tree is as it was before the command."""


class RefusedPath(WriteError):
    """A plan or state file names a path the kit never writes: a tampered file (exit 4)."""

    exit_code = int(Exit.STALE)


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
    seal: str = ""  # sha256 of the token kept outside the tree (see _seal_path)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Journal:
        """A journal this kit wrote; ValueError for anything else, whatever its shape."""
        try:
            data: Any = json.loads(text)
        except RecursionError:
            raise ValueError("nested too deeply") from None
        if not isinstance(data, dict) or set(data) != {f.name for f in fields(cls)}:
            raise ValueError("missing or unexpected fields")
        if not all(isinstance(w, dict) and set(w) == _WRITE_FIELDS for w in data["writes"]):
            raise ValueError("malformed writes")
        journal = cls(**{**data, "writes": [Write(**w) for w in data["writes"]]})
        problem = journal.problem()
        if problem:
            raise ValueError(problem)
        return journal

    def problem(self) -> str | None:
        """What no transaction of this kit writes, or None."""
        texts_ok = all(
            isinstance(w.path, str)
            and all(t is None or isinstance(t, str) for t in (w.before, w.after))
            and known_encoding(w.encoding)
            for w in self.writes
        )
        lists_ok = all(
            isinstance(items, list) and all(isinstance(i, str) for i in items)
            for items in (self.created_dirs, self.keys_entries_before, self.aside)
        )
        if not (texts_ok and lists_ok and self.keys in (None, "create")):
            return "fields of the wrong type"
        if not isinstance(self.seal, str) or not all(_ASIDE_NAME.fullmatch(n) for n in self.aside):
            return "an entry no transaction of this kit writes"
        try:
            for rel in [w.path for w in self.writes]:
                check_relative(rel)
            for rel in self.created_dirs:  # the state folder itself is made by a first apply
                if rel != STATE_DIR:
                    check_relative(rel)
        except WriteError as refused:
            return str(refused)
        return None


_WRITE_FIELDS = {f.name for f in fields(Write)}
# What a rollback may set aside in the state folder: the key folder and the runtime's data.
_ASIDE_NAME = re.compile(r"keys|(metrics|denylist)\.sqlite3(-wal|-shm|-journal)?")


# -- paths -------------------------------------------------------------------------------


def check_relative(rel: str) -> None:
    """A path a plan, a state file or a journal may name: relative, without ``..``, and
    none the kit never writes (git's own files, which run hooks; a tree's virtualenv; the
    state folder but for state.json; the journal), whatever a forged file says."""
    pure = PurePosixPath(rel)
    if not rel or "\\" in rel or "\0" in rel or pure.is_absolute() or ".." in pure.parts:
        raise RefusedPath(f"refusing a path outside the tree: {rel!r}")
    forbidden = (
        ".git" in pure.parts
        or "site-packages" in pure.parts
        or rel == JOURNAL
        or (pure.parts[0] == STATE_DIR and rel != f"{STATE_DIR}/state.json")
    )
    if forbidden:
        raise RefusedPath(f"refusing a path the kit never writes: {rel!r}")


def resolve_inside(root: Path, rel: str) -> Path:
    """The real file ``rel`` names (symlinks followed), which must lie inside ``root``."""
    check_relative(rel)
    target = (root / rel).resolve()
    if not target.is_relative_to(root):
        raise WriteError(f"{rel} leads outside {root} (a symlink): refusing to write it")
    for folder in target.parents:
        if folder == root or not folder.is_relative_to(root):
            break
        if (folder / "pyvenv.cfg").exists():
            raise RefusedPath(f"refusing to write {rel}: it lies in a virtualenv")
    return target


def check_state_dirs(root: Path) -> None:
    """Finding 5: a committed symlink must not steer the state or a private key elsewhere."""
    for rel in (STATE_DIR, f"{STATE_DIR}/keys", f"{STATE_DIR}/{ASIDE}"):
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


def current_text(path: Path, encoding: str) -> str | None:
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
    problem = journal.problem()
    if problem:
        raise WriteError(f"refusing to write in {root}: {problem}")
    step = hook or (lambda label: None)
    with _sigterm_raises():
        journal.seal = _write_seal(root)
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
        finally:
            _seal_path(root).unlink(missing_ok=True)
    shutil.rmtree(root / STATE_DIR / ASIDE, ignore_errors=True)


def _forward(
    root: Path,
    journal: Journal,
    targets: list[tuple[Write, Path]],
    make_keys: Callable[[Path], None] | None,
    step: Hook,
) -> None:
    # Set aside first: a rollback restores the legacy .gitignore, which no longer hides
    # the key folder (the key folder ignores itself too: see migrate.apply).
    for name in journal.aside:
        step(f"remove {STATE_DIR}/{name}")
        (root / STATE_DIR / ASIDE).mkdir(exist_ok=True)
        os.replace(root / STATE_DIR / name, root / STATE_DIR / ASIDE / name)
    for rel in journal.created_dirs:
        (root / rel).mkdir(exist_ok=True)
    for write, target in targets:
        step(f"write {write.path}")
        _apply_one(target, write)
    # Keys last: by now the .gitignore that keeps them out of version control is written.
    if journal.keys == "create" and make_keys is not None:
        step("keys")
        make_keys(root / STATE_DIR / "keys")


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
        if current_text(target, write.encoding) == write.before:
            continue
        if write.before is None:
            target.unlink(missing_ok=True)
        else:
            _put(target, write.before, write.encoding)
    _undo_keys(root, journal)
    for rel in reversed(journal.created_dirs):
        folder = (root / rel).resolve()
        if folder.is_relative_to(root):
            with contextlib.suppress(OSError):
                folder.rmdir()
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
    """Undo a transaction a killed process left unfinished; True when there was one.

    Only a journal this user's own `migrate` wrote for this tree is acted on: it must match
    the seal kept outside the tree. A journal that came with the tree (committed, copied,
    planted) is refused, untouched, since its "before" texts are whatever its author chose.
    """
    root = root.resolve()
    check_state_dirs(root)
    path = _journal_path(root)
    if not path.is_file() or path.is_symlink():
        if path.is_symlink():
            raise WriteError(f"{path} is a symlink: not a journal of this kit; delete it")
        # A committed rollback killed before it deleted what it had set aside.
        shutil.rmtree(root / STATE_DIR / ASIDE, ignore_errors=True)
        _temporary(path).unlink(missing_ok=True)
        return False
    journal = _read_journal(path)
    if not journal.seal or journal.seal != _seal_of(root):
        raise WriteError(
            f"{path}: an unfinished journal that this user's migrate did not write here "
            "(committed or copied with the tree?): nothing was done with it; compare the "
            "tree with version control, then delete the journal"
        )
    with _signals_held():
        _undo(root, journal)
        _seal_path(root).unlink(missing_ok=True)
    print(
        f"migrate: an interrupted write was undone ({len(journal.writes)} files put back "
        "as they were)",
        file=sys.stderr,
    )
    return True


def _read_journal(path: Path) -> Journal:
    try:
        return Journal.from_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError, KeyError) as problem:
        raise WriteError(
            f"{path}: unreadable journal of an interrupted write ({problem}); compare the "
            "tree with version control, then delete the journal"
        ) from None


# -- the seal: proof that this user's migrate wrote a journal ------------------------------


def _seal_path(root: Path) -> Path:
    """A file outside the tree, per tree, holding a random token whose sha256 the journal
    carries (OAUTH_MIGRATE_STATE_HOME, else $XDG_STATE_HOME or ~/.local/state)."""
    base = os.environ.get("OAUTH_MIGRATE_STATE_HOME") or os.environ.get("XDG_STATE_HOME")
    home = Path(base) if base else Path.home() / ".local" / "state"
    name = hashlib.sha256(str(root).encode("utf-8")).hexdigest()
    return home / "oauth-migrate" / "journals" / name


def _write_seal(root: Path) -> str:
    token = secrets.token_hex(32)
    path = _seal_path(root)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    _put(path, token, "ascii", 0o600)
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def _seal_of(root: Path) -> str | None:
    try:
        token = _seal_path(root).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return hashlib.sha256(token.encode("ascii")).hexdigest()


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
