"""What finders report: located facts, and the manual steps they could not turn into code."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Manual:
    """A change the kit will not make itself: where, what it expected, what to do by hand."""

    where: str
    expected: str
    todo: str
    guide: str  # the MIGRATION.md section that explains the hand edit

    def render(self) -> str:
        return (
            f"{self.where}: {self.expected}\n"
            f"    do by hand: {self.todo}\n"
            f"    see MIGRATION.md, {self.guide}"
        )


@dataclass(frozen=True)
class Note:
    """A fact the plan reports without changing code (store kind, defects found, ...)."""

    where: str
    text: str
