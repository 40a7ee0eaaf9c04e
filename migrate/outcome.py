"""What a plan or a write comes to: a plan's exit code, and the lines that say what
apply, finalize and rollback did.

Kept apart from the commands so that the wording of a result is one function whatever
prints it (text, or the ``messages`` of the JSON document).
"""

from __future__ import annotations

from pathlib import Path

from migrate.apply import ApplyResult
from migrate.exit_codes import Exit
from migrate.plan import Plan
from migrate.recipes import self_contained
from migrate.render import key_folder_ignored, keys_line, manual_steps_left
from migrate.state import Applied


def found_nothing(plan: Plan) -> bool:
    """No recipe recognised a legacy authorization server and nothing was found: the
    plan has no step and no finding (a migrated tree is still recognised, by its
    migrated mint, gate and metadata; an unreadable file is a finding, shown in full)."""
    return not plan.recipe and not plan.findings


def plan_exit(plan: Plan) -> Exit:
    """0 nothing to do, 2 changes pending, 6 blocked by a manual step."""
    if plan.blocked_by:
        return Exit.BLOCKED
    return Exit.PENDING if plan.pending else Exit.OK


def already_there(plan: Plan) -> str:
    """Why apply has nothing to write."""
    if found_nothing(plan):
        return f"nothing to apply: {plan.notes[0]}"
    signed = [n for n in plan.notes if n.startswith(self_contained.NOTE)]
    if plan.phase_from == "legacy" and signed:
        return f"nothing to apply: {signed[0]}"  # not "already in the legacy phase"
    return f"nothing to apply: the tree is already in the {plan.phase_from} phase"


def applied_lines(plan: Plan, root: Path, result: ApplyResult) -> list[str]:
    """The key generated (and whether git ignores it), the files written, the manual
    steps left."""
    root = root.resolve()
    lines = [keys_line(root)] if result.keys_generated else []
    lines.append(f"wrote {len(result.written)} files in {root}; phase is now {plan.phase_to}")
    return lines + manual_steps_left(plan)


def finalized_lines(plan: Plan, root: Path, written: list[str]) -> list[str]:
    """The files written, a warning when the key folder is not git-ignored, the manual
    steps left."""
    root = root.resolve()
    noun = "file" if len(written) == 1 else "files"
    lines = [f"wrote {len(written)} {noun} in {root}; phase is now final"]
    if not key_folder_ignored(root):
        lines.append(
            "warning: the key folder could not be git-ignored (not a git work tree): "
            "keep .oauth-migration/keys out of version control"
        )
    return lines + manual_steps_left(plan)


def rolled_back_line(root: Path, undone: Applied) -> str:
    return (
        f"restored {len(undone.files)} files in {root.resolve()}; phase is now {undone.phase_from}"
    )
