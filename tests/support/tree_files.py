"""The bytes of a git work tree's own files, for byte-for-byte comparisons across a rollback.

"Own files" are what ``git ls-files --cached --others --exclude-standard`` lists: tracked
files and untracked ones the tree's ``.gitignore`` does not ignore. What a running server
writes (its token database, caches) is ignored by the server's own ``.gitignore``, so a
comparison is not upset by the server having run in between.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

GIT_IDENTITY = ("-c", "user.name=t", "-c", "user.email=t@example.invalid")


def git(root: Path, *args: str) -> str:
    """Run git in ``root`` with a throwaway identity; its standard output."""
    return subprocess.run(
        ["git", *GIT_IDENTITY, *args], cwd=root, check=True, capture_output=True, text=True
    ).stdout


def commit_all(root: Path, message: str) -> None:
    """Commit everything in ``root`` (a work tree is created first when there is none)."""
    if not (root / ".git").exists():
        git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", message, "--allow-empty")


def own_files(root: Path, skip: tuple[str, ...] = ()) -> dict[str, bytes]:
    """Path -> bytes of every file git would track in ``root``; ``skip``: folder prefixes."""
    listed = git(root, "ls-files", "--cached", "--others", "--exclude-standard", "-z")
    return {
        rel: (root / rel).read_bytes()
        for rel in sorted(set(listed.split("\0")) - {""})
        if (root / rel).is_file() and not rel.startswith(skip)
    }


def differences(before: Mapping[str, bytes], after: Mapping[str, bytes]) -> list[str]:
    """``missing: p`` / ``added: p`` / ``changed: p (n bytes -> m bytes)`` lines, sorted."""
    lines = [f"missing: {p}" for p in sorted(set(before) - set(after))]
    lines += [f"added: {p}" for p in sorted(set(after) - set(before))]
    lines += [
        f"changed: {p} ({len(before[p])} bytes -> {len(after[p])} bytes)"
        for p in sorted(set(before) & set(after))
        if before[p] != after[p]
    ]
    return lines
