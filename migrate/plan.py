"""The plan: what `apply` will change, built by one engine that `plan` and `apply` share.

A plan holds the findings, the ordered steps (stable ids, ``safe`` or ``manual``), the new
text of every file it writes, and the sha256 of every file it read, so that `apply` can
write exactly what was planned or refuse a plan the tree has moved away from.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from migrate import __version__

Safety = Literal["safe", "manual"]
PLAN_FORMAT = 1


@dataclass
class Step:
    id: str
    title: str
    safety: Safety
    files: list[str] = field(default_factory=list)
    detail: str = ""


@dataclass
class FileChange:
    path: str
    before: str | None  # None: the file is created
    after: str
    emitted: bool = False  # part of the runtime package: listed in the plan, not dumped
    # The source's declared encoding (PEP 263): the file is written back in it.
    encoding: str = "utf-8"


@dataclass
class Plan:
    root: str
    phase_from: str
    phase_to: str
    findings: list[dict[str, str]] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    changes: list[FileChange] = field(default_factory=list)
    reads: dict[str, str] = field(default_factory=dict)
    manual: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    generate_keys: bool = False
    store_persistent: bool = True
    # Manual steps without which the written code could not run: apply refuses then.
    blocked_by: list[str] = field(default_factory=list)
    kit_version: str = __version__
    format: int = PLAN_FORMAT

    @property
    def pending(self) -> bool:
        return bool(self.changes or self.generate_keys)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Plan:
        """A saved plan; ValueError for anything that is not one, whatever was edited."""
        try:
            data: dict[str, Any] = json.loads(text)
            if not isinstance(data, dict) or data.get("format") != PLAN_FORMAT:
                raise ValueError("not an oauth-migrate plan file of a known format")
            data["steps"] = [Step(**s) for s in data["steps"]]
            data["changes"] = [FileChange(**c) for c in data["changes"]]
            plan = cls(**data)
        except (TypeError, KeyError, AttributeError) as problem:
            raise ValueError(f"malformed plan file ({problem})") from None
        _check_types(plan)
        return plan


def read_exact(path: Path) -> str:
    """A text file as it is on disk: no newline translation (CRLF files stay CRLF)."""
    return path.read_bytes().decode("utf-8")


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def stale_files(plan: Plan, root: Path) -> list[str]:
    """Files the plan read whose content differs now (or that vanished)."""
    changed = []
    for rel, expected in sorted(plan.reads.items()):
        path = root / rel
        try:
            current = digest(read_exact(path)) if path.exists() else "absent"
        except (OSError, UnicodeDecodeError):
            current = "unreadable"
        if current != expected:
            changed.append(rel)
    return changed


def _check_types(plan: Plan) -> None:
    ok = (
        isinstance(plan.root, str)
        and isinstance(plan.reads, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in plan.reads.items())
        and all(
            isinstance(c.path, str)
            and isinstance(c.after, str)
            and (c.before is None or isinstance(c.before, str))
            for c in plan.changes
        )
    )
    if not ok:
        raise ValueError("malformed plan file (wrong types)")
