"""The typed results a plan carries: what the finders saw, and what is left to do by hand.

Every finder, recipe and planner builds these two types; :mod:`migrate.render` is the one
place that turns them into text, and :mod:`migrate.plan` into JSON. Whether a manual step
stops a command from writing is the ``blocks_apply`` field, never a test on its wording.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Finding:
    """One thing the scan found: its kind (``mint``, ``gate``, ``app``, ...), where, what."""

    kind: str
    where: str
    detail: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Finding:
        return cls(str(data["kind"]), str(data["where"]), str(data["detail"]))


@dataclass(frozen=True)
class ManualStep:
    """A change the kit will not make itself.

    ``where`` is a file:line (or ``(whole tree)``); ``expected`` what the kit looked for;
    ``how_to`` the hand edit; ``guide`` the MIGRATION.md section that explains it;
    ``found`` what was there instead, when that helps. ``blocks_apply``: the command must
    not write while this is left (the server would be broken, half-migrated or less safe);
    the plan then lists it in ``blocked_by``."""

    where: str
    expected: str
    how_to: str
    guide: str
    blocks_apply: bool = False
    found: str = ""

    def blocking(self) -> ManualStep:
        return ManualStep(self.where, self.expected, self.how_to, self.guide, True, self.found)

    @property
    def blocker(self) -> str:
        """The ``blocked_by`` line of this step."""
        return f"{self.where}: {self.expected}"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ManualStep:
        return cls(
            str(data["where"]),
            str(data["expected"]),
            str(data["how_to"]),
            str(data["guide"]),
            bool(data["blocks_apply"]),
            str(data["found"]),
        )


FINDING_FIELDS = frozenset(("kind", "where", "detail"))
MANUAL_FIELDS = frozenset(("where", "expected", "how_to", "guide", "blocks_apply", "found"))
