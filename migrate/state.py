"""``.oauth-migration/state.json`` in the target: the phase, and what each change wrote.

Every apply records the files it touched with their text before and after (the backup
`rollback` restores byte for byte) and the files it created (which rollback removes).

The file is committed with the code, so it is input a person can edit: it carries a
sha256 digest of its content, and :func:`read_state` refuses it whole (nothing changed)
when the digest does not match or any field is not what an apply writes: a phase outside
legacy/hybrid/final, a history that does not chain, a path that is absolute or climbs out
of the tree. The digest catches hand edits and corruption; a forger can recompute it,
which is why every path is also checked where it is used (:mod:`migrate.journal`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from migrate import journal
from migrate.emit import PACKAGE, STATE_DIR, wiring_lifetime
from migrate.errors import StateError
from migrate.plan import content_digest, known_encoding
from shims.policy import DEFAULT_LIFETIME

STATE_FILE = "state.json"
PHASES = ("legacy", "hybrid", "final")


@dataclass
class Applied:
    phase_from: str
    phase_to: str
    kit_version: str
    at: float
    files: dict[str, dict[str, str | None]] = field(default_factory=dict)  # before/after
    keys_generated: bool = False
    store_persistent: bool = True

    def encoding_of(self, rel: str) -> str:
        return self.files[rel].get("encoding") or "utf-8"


@dataclass
class State:
    phase: str = "legacy"
    history: list[Applied] = field(default_factory=list)

    def to_json(self) -> str:
        payload = asdict(self)
        payload["digest"] = content_digest(payload)
        return json.dumps(payload, indent=2, sort_keys=True) + "\n"

    @property
    def wiring(self) -> str | None:
        """Where apply wrote the runtime's wiring.py (relative), as the history records it."""
        suffix = f"{PACKAGE}/wiring.py"
        for applied in self.history:
            for rel in applied.files:
                if rel == suffix or rel.endswith("/" + suffix):
                    return rel
        return None


def state_path(root: Path) -> Path:
    return root / STATE_DIR / STATE_FILE


def read_state(root: Path) -> State:
    """The tree's state, after undoing any write a killed process left unfinished."""
    try:
        journal.check_state_dirs(root)
    except journal.WriteError as refused:
        raise StateError(str(refused)) from None
    if root.is_dir():
        journal.recover(root)
    path = state_path(root)
    if path.is_symlink():
        raise StateError(f"{path} is a symlink: refusing to read or write state through it")
    if not path.exists():
        return State()
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError) as exc:
        raise StateError(f"{path}: unreadable state file ({exc}); {_RECOVER}") from None
    problem = _problem(data)
    if problem:
        raise StateError(f"{path}: {problem}; {_RECOVER}")
    history = [Applied(**entry) for entry in data["history"]]
    return State(data["phase"], history)


_RECOVER = (
    "nothing was changed; restore it from version control "
    f"(git checkout -- {STATE_DIR}/{STATE_FILE})"
)


def _problem(data: Any) -> str | None:
    """What makes ``data`` something no apply wrote, or None."""
    if not isinstance(data, dict):
        return "not a state file (not a JSON object)"
    if data.get("digest") != content_digest(data):
        return "edited by hand or corrupted (its digest does not match its content)"
    if set(data) != {"phase", "history", "digest"} or not isinstance(data["history"], list):
        return "malformed state file (unexpected fields)"
    phase = "legacy"
    for index, entry in enumerate(data["history"]):
        problem = _entry_problem(entry, phase)
        if problem:
            return f"malformed history entry {index + 1} ({problem})"
        phase = entry["phase_to"]
    if data["phase"] != phase:
        return f"the phase {data['phase']!r} is not where its history leads ({phase!r})"
    return None


_ENTRY_TYPES: dict[str, tuple[type, ...]] = {
    "phase_from": (str,),
    "phase_to": (str,),
    "kit_version": (str,),
    "at": (int, float),
    "files": (dict,),
    "keys_generated": (bool,),
    "store_persistent": (bool,),
}


def _entry_problem(entry: Any, phase: str) -> str | None:
    if not isinstance(entry, dict) or set(entry) != {f.name for f in fields(Applied)}:
        return "missing or unexpected fields"
    for name, types in _ENTRY_TYPES.items():
        if not isinstance(entry[name], types):
            return f"{name} has the wrong type"
    if entry["phase_from"] != phase or entry["phase_to"] not in PHASES:
        return f"a change from {entry['phase_from']!r} to {entry['phase_to']!r} after {phase!r}"
    for rel, texts in entry["files"].items():
        problem = _file_problem(rel, texts)
        if problem:
            return problem
    return None


def _file_problem(rel: Any, texts: Any) -> str | None:
    try:
        journal.check_relative(rel)
    except journal.WriteError as refused:
        return str(refused)
    if not isinstance(texts, dict) or not {"before", "after"} <= set(texts) <= {
        "before",
        "after",
        "encoding",
    }:
        return f"{rel}: malformed entry"
    if not all(texts[k] is None or isinstance(texts[k], str) for k in ("before", "after")):
        return f"{rel}: texts of the wrong type"
    encoding = texts.get("encoding", "utf-8")
    return None if known_encoding(encoding) else f"{rel}: unknown encoding {encoding!r}"


def recorded_lifetime(root: Path, state: State) -> int:
    """The access-token lifetime the migrated server signs with: the one apply wrote into
    its wiring.py (the runtime's default where the tree has none)."""
    wiring = root / state.wiring if state.wiring else None
    try:
        text = wiring.read_text(encoding="utf-8") if wiring is not None else None
    except OSError:
        text = None
    return wiring_lifetime(text) if text is not None else DEFAULT_LIFETIME
