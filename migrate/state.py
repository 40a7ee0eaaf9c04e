"""``.oauth-migration/state.json`` in the target: the phase, and what each change wrote.

Every apply records the files it touched with their text before and after (the backup
`rollback` restores byte for byte) and the files it created (which rollback removes).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from migrate.emit import PACKAGE, STATE_DIR

STATE_FILE = "state.json"


class StateError(Exception):
    """An unreadable or foreign state file."""


@dataclass
class Applied:
    phase_from: str
    phase_to: str
    kit_version: str
    at: float
    files: dict[str, dict[str, str | None]] = field(default_factory=dict)  # before/after
    keys_generated: bool = False
    store_persistent: bool = True


@dataclass
class State:
    phase: str = "legacy"
    history: list[Applied] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

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
    path = state_path(root)
    if not path.exists():
        return State()
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        history = [Applied(**entry) for entry in data.get("history", [])]
        return State(str(data["phase"]), history)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StateError(f"{path}: unreadable state file ({exc})") from None
