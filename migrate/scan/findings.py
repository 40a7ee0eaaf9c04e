"""What finders report when they cannot turn a finding into code: a manual step."""

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
