"""Trees to migrate in tests: a copy of sample_legacy, and byte snapshots of whole trees."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from migrate.plan import content_digest

REPO = Path(__file__).resolve().parents[2]


def copy_sample(destination: Path) -> Path:
    """A project folder holding a fresh copy of the sample_legacy package."""
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copytree(
        REPO / "sample_legacy",
        destination / "sample_legacy",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    return destination


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
