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
    # True: the command must not write while this is left (the server would be broken,
    # half-migrated or less safe); the plan lists it in ``blocked_by``.
    blocks: bool = False

    def render(self) -> str:
        return (
            f"{self.where}: {self.expected}\n"
            f"    do by hand: {self.todo}\n"
            f"    see MIGRATION.md, {self.guide}"
        )


def manual_entry(manual: Manual) -> dict[str, str]:
    """The plan's form of a manual step (``Plan.manual`` holds strings: ``blocks`` is
    ``"yes"`` or ``"no"``)."""
    return {
        "where": manual.where,
        "expected": manual.expected,
        "todo": manual.todo,
        "guide": manual.guide,
        "blocks": "yes" if manual.blocks else "no",
    }


def blocks(entry: dict[str, str]) -> bool:
    """Whether a plan's manual step blocks the write (older plans have no such key)."""
    return entry.get("blocks") == "yes"


def blocker(entry: dict[str, str]) -> str:
    """The ``blocked_by`` line of a blocking manual step."""
    return f"{entry['where']}: {entry['expected']}"
