"""The plan: what `apply` will change, built by one engine that `plan` and `apply` share.

A plan holds the findings, the ordered steps (stable ids, ``safe`` or ``manual``), the new
text of every file it writes, and the sha256 of every file it read, so that `apply` can
write exactly what was planned or refuse a plan the tree has moved away from.
"""

from __future__ import annotations

import codecs
import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from migrate import __version__
from migrate.scan.findings import FINDING_FIELDS, MANUAL_FIELDS, Finding, ManualStep

Safety = Literal["safe", "manual"]
PLAN_FORMAT = 2


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
    findings: list[Finding] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    changes: list[FileChange] = field(default_factory=list)
    reads: dict[str, str] = field(default_factory=dict)
    manual: list[ManualStep] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    generate_keys: bool = False
    store_persistent: bool = True
    # Manual steps without which the written code could not run: apply refuses then.
    blocked_by: list[str] = field(default_factory=list)
    # The recipe (server shape) that planned it, and the evidence it matched on; empty
    # when no recipe recognised the tree (no legacy authorization server: no step).
    recipe: str = ""
    evidence: list[Finding] = field(default_factory=list)
    kit_version: str = __version__
    format: int = PLAN_FORMAT

    @property
    def pending(self) -> bool:
        return bool(self.changes or self.generate_keys)

    def to_json(self) -> str:
        payload = asdict(self)
        payload["digest"] = content_digest(payload)
        return json.dumps(payload, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Plan:
        """A saved plan; ValueError for anything that is not one, whatever was edited.

        A saved plan is what `plan --out` wrote: it moves a tree into the hybrid phase,
        and its digest matches its content (an edited plan is refused whole)."""
        try:
            data: dict[str, Any] = json.loads(text)
        except ValueError as unparsable:
            raise ValueError(f"malformed plan file ({unparsable})") from None
        if not isinstance(data, dict) or data.get("format") != PLAN_FORMAT:
            raise ValueError("not an oauth-migrate plan file of a known format")
        if data.pop("digest", None) != content_digest(data):
            raise ValueError(
                "edited or corrupted plan file (its digest does not match its content): "
                "make it again with `migrate plan --out`"
            )
        problem = _shape_problem(data)
        if problem:
            raise ValueError(f"malformed plan file ({problem})")
        data["steps"] = [Step(**s) for s in data["steps"]]
        data["findings"] = [Finding.from_json(f) for f in data["findings"]]
        data["evidence"] = [Finding.from_json(f) for f in data["evidence"]]
        data["manual"] = [ManualStep.from_json(m) for m in data["manual"]]
        data["changes"] = [FileChange(**c) for c in data["changes"]]
        return cls(**data)


_PLAN_TYPES: dict[str, type | tuple[type, ...]] = {
    "root": str,
    "phase_from": str,
    "phase_to": str,
    "findings": list,
    "steps": list,
    "changes": list,
    "reads": dict,
    "manual": list,
    "notes": list,
    "generate_keys": bool,
    "store_persistent": bool,
    "blocked_by": list,
    "recipe": str,
    "evidence": list,
    "kit_version": str,
    "format": int,
}


def _shape_problem(data: dict[str, Any]) -> str | None:
    """What in ``data`` no `plan --out` writes, or None (checked before anything is built)."""
    if set(data) != {f.name for f in fields(Plan)}:
        return "missing or unexpected fields"
    wrong = [name for name, kind in _PLAN_TYPES.items() if not isinstance(data[name], kind)]
    if wrong:
        return "wrong types: " + ", ".join(wrong)
    if data["phase_from"] not in ("legacy", "hybrid") or data["phase_to"] != "hybrid":
        return f"a saved plan moves a tree to the hybrid phase, not {data['phase_to']!r}"
    checks = (
        all(_finding_shape(item) for item in data["findings"] + data["evidence"]),
        all(_manual_shape(item) for item in data["manual"]),
        all(isinstance(item, str) for item in data["notes"] + data["blocked_by"]),
        all(isinstance(k, str) and isinstance(v, str) for k, v in data["reads"].items()),
        all(_step_shape(step) for step in data["steps"]),
        all(_change_shape(change) for change in data["changes"]),
    )
    return None if all(checks) else "wrong types in findings, steps, changes or manual steps"


def _finding_shape(item: Any) -> bool:
    return (
        isinstance(item, dict)
        and set(item) == FINDING_FIELDS
        and all(isinstance(v, str) for v in item.values())
    )


def _manual_shape(item: Any) -> bool:
    return (
        isinstance(item, dict)
        and set(item) == MANUAL_FIELDS
        and isinstance(item["blocks_apply"], bool)
        and all(isinstance(v, str) for k, v in item.items() if k != "blocks_apply")
    )


def _step_shape(step: Any) -> bool:
    names = {f.name for f in fields(Step)}
    return (
        isinstance(step, dict)
        and set(step) == names
        and all(isinstance(step[k], str) for k in ("id", "title", "safety", "detail"))
        and step["safety"] in ("safe", "manual")
        and isinstance(step["files"], list)
        and all(isinstance(f, str) for f in step["files"])
    )


def _change_shape(change: Any) -> bool:
    if not isinstance(change, dict) or set(change) != {f.name for f in fields(FileChange)}:
        return False
    return (
        known_encoding(change["encoding"])
        and isinstance(change["path"], str)
        and isinstance(change["after"], str)
        and (change["before"] is None or isinstance(change["before"], str))
        and isinstance(change["emitted"], bool)
    )


def known_encoding(name: object) -> bool:
    """A codec name Python knows (a saved plan, state or journal names the encoding a file
    is written back in: an unknown one must be refused before any write)."""
    try:
        codecs.lookup(name)  # type: ignore[arg-type]
    except (LookupError, TypeError):
        return False
    return True


def content_digest(payload: dict[str, Any]) -> str:
    """sha256 over the canonical JSON of everything but the digest itself."""
    body = {key: value for key, value in payload.items() if key != "digest"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def read_exact(path: Path, encoding: str = "utf-8") -> str:
    """A text file as it is on disk: no newline translation (CRLF files stay CRLF)."""
    return path.read_bytes().decode(encoding)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def stale_files(plan: Plan, root: Path) -> list[str]:
    """Files the plan read whose content differs now (or that vanished)."""
    changed = []
    for rel, expected in sorted(plan.reads.items()):
        path = root / rel
        try:
            # The bytes, whatever the file's encoding (for UTF-8 text: digest(text)).
            current = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "absent"
        except OSError:
            current = "unreadable"
        if current != expected:
            changed.append(rel)
    return changed
