"""Trees to migrate in tests: a copy of sample_legacy, and byte snapshots of whole trees."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from migrate.plan import content_digest

# The repository's root: the one definition the test helpers share.
REPO_ROOT = Path(__file__).resolve().parents[2]


def copy_sample(destination: Path) -> Path:
    """A project folder holding a fresh, writable copy of the sample_legacy package."""
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copytree(
        REPO_ROOT / "sample_legacy",
        destination / "sample_legacy",
        ignore=shutil.ignore_patterns("__pycache__"),
        copy_function=shutil.copyfile,  # modes not copied: writable even from a read-only checkout
    )
    # The project's dependency file sits beside the package, where a deployment reads it.
    shutil.copyfile(
        REPO_ROOT / "sample_legacy" / "requirements.txt", destination / "requirements.txt"
    )
    return destination


def sample_server(workdir: Path) -> Path:
    """The sample copied into ``workdir/server`` (the server folder of the e2e and
    lifecycle cases)."""
    return copy_sample(workdir / "server")


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (caches aside) by relative path, with its bytes."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def write_forged(path: Path, data: dict[str, Any]) -> None:
    """Write a plan or state file edited by hand with its digest recomputed, as a forger
    who read this kit's source would: the defences behind the digest must still hold."""
    data = {key: value for key, value in data.items() if key != "digest"}
    data["digest"] = content_digest(data)
    path.write_text(json.dumps(data), encoding="utf-8")


def git(root: Path, *args: str) -> str:
    """Run git in ``root`` with a throwaway identity; its standard output."""
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def commit_all(root: Path) -> Path:
    """``root`` as a git work tree with everything committed."""
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    return root
