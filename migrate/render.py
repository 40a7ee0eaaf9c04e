"""The plan as a person reads it (text, coloured on a terminal) or a program does (JSON).

Rendering reads the plan only; nothing here touches the target tree except asking git
whether the key folder is ignored.
"""

from __future__ import annotations

import difflib
import subprocess
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from migrate import emit
from migrate.plan import Plan, content_digest

SAFETY_COLOURS = {"safe": "green", "manual": "yellow"}


def unified_diff(plan: Plan) -> str:
    chunks = []
    for change in plan.changes:
        if change.emitted:
            continue
        before = (change.before or "").splitlines(keepends=True)
        after = change.after.splitlines(keepends=True)
        source = f"a/{change.path}" if change.before is not None else "/dev/null"
        chunks.append("".join(difflib.unified_diff(before, after, source, f"b/{change.path}", n=3)))
    return "".join(chunks)


def _count(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _files(count: int) -> str:
    return _count(count, "file")


def colour_diff(diff: str) -> str:
    """A unified diff with git's colours: headers bold, hunks cyan, - red, + green."""

    def line(text: str) -> str:
        if text.startswith(("--- ", "+++ ")):
            return click.style(text, bold=True)
        if text.startswith("@@"):
            return click.style(text, fg="cyan")
        if text.startswith("-"):
            return click.style(text, fg="red")
        if text.startswith("+"):
            return click.style(text, fg="green")
        return text

    return "\n".join(line(text) for text in diff.split("\n"))


def _header(plan: Plan) -> str:
    if plan.pending:
        return f"oauth-migrate plan for {plan.root} ({plan.phase_from} -> {plan.phase_to})"
    return f"oauth-migrate plan for {plan.root} ({plan.phase_from}: nothing to change)"


def _steps(plan: Plan, colour: bool) -> list[str]:
    lines = ["", "Steps"]
    if not plan.steps:
        lines.append("  nothing to do")
    for index, step in enumerate(plan.steps, 1):
        safety = f"{step.safety:<7}"
        if colour:
            safety = click.style(safety, fg=SAFETY_COLOURS.get(step.safety, "white"))
        lines.append(f"  {index:>2}. {step.id:<16} {safety} {step.title}")
        if step.safety == "safe" and step.id != "emit-runtime":  # listed under Runtime
            lines += [f"        {path}" for path in step.files]
    return lines


def _runtime(plan: Plan) -> list[str]:
    emitted = [c for c in plan.changes if c.emitted]
    if not emitted:
        return []
    created = sum(1 for c in emitted if c.before is None)
    verb = "created" if created == len(emitted) else "updated" if not created else "written"
    lines = ["", f"Runtime package ({_files(len(emitted))}, {verb} from shims/)"]
    return lines + [f"  {c.path}" + ("" if c.before is None else "  (updated)") for c in emitted]


def render_text(plan: Plan, *, colour: bool = False) -> str:
    lines = [_header(plan), ""]
    lines += _recipe(plan)
    lines.append("Findings")
    width = max((len(f.where) for f in plan.findings), default=0)
    for finding in plan.findings:
        lines.append(f"  {finding.kind:<9} {finding.where:<{width}}  {finding.detail}")
    lines += _steps(plan, colour)
    if plan.blocked_by:
        lines += ["", "Apply is blocked until these manual steps are done (then plan again)"]
        lines += [f"  {item}" for item in plan.blocked_by]
    if plan.manual:
        lines += ["", "Manual steps (apply will not do these)"]
        for manual in plan.manual:
            flag = "  [blocks: nothing is written until it is done]" if manual.blocks_apply else ""
            lines.append(f"  {manual.where}: {manual.expected}{flag}")
            if manual.found:
                lines.append(f"      found: {manual.found}")
            lines.append(f"      do by hand: {manual.how_to}")
            lines.append(f"      see MIGRATION.md, {manual.guide}")
    lines += _runtime(plan)
    if plan.notes:
        lines += ["", *plan.notes]
    diff = unified_diff(plan).rstrip("\n")
    if diff:
        lines += ["", "Diff", colour_diff(diff) if colour else diff]
    lines += ["", _summary(plan)]
    return "\n".join(lines) + "\n"


def _recipe(plan: Plan) -> list[str]:
    """Which server shape planned this, and the evidence it matched on (first lines)."""
    if not plan.recipe:
        return []
    lines = [f"Server shape: {plan.recipe}, recognised by"]
    lines += [f"  {e.kind:<9} {e.where}" for e in plan.evidence[:5]]
    if len(plan.evidence) > 5:
        lines.append(f"  ... and {len(plan.evidence) - 5} more")
    return [*lines, ""]


def _summary(plan: Plan) -> str:
    """The closing count, as terraform ends its plans."""
    created = sum(1 for c in plan.changes if c.before is None)
    changed = len(plan.changes) - created
    safe = sum(1 for s in plan.steps if s.safety == "safe")
    state = "blocked" if plan.blocked_by else "pending" if plan.pending else "nothing to do"
    return (
        f"Plan: {_count(safe, 'step')}, {_files(changed)} to change, {created} to create, "
        f"{len(plan.manual)} manual ({state})"
    )


def plan_document(plan: Plan) -> dict[str, Any]:
    """The plan as `plan --format json` prints it: the saved-plan fields, plus summary."""
    document = asdict(plan)
    document["digest"] = content_digest(document)
    document["pending"] = plan.pending
    return document


def keys_line(root: Path) -> str:
    """Where the key was generated, and whether git really ignores it."""
    folder = f"{emit.STATE_DIR}/keys"
    if key_folder_ignored(root):
        return f"generated a signing key in {folder} (git-ignored)"
    return (
        f"generated a signing key in {folder}; it could not be git-ignored ({root} is not "
        "in a git work tree): keep that folder out of version control"
    )


def key_folder_ignored(root: Path) -> bool:
    try:
        found = subprocess.run(
            ["git", "check-ignore", "-q", f"{emit.STATE_DIR}/keys/manifest.json"],
            cwd=root,
            capture_output=True,
            check=False,
        )
    except OSError:
        return False
    return found.returncode == 0


def after_write(where: str, plan: Plan) -> str:
    """``file:line`` of the plan, moved to where that line is once the plan is written."""
    path, _, number = where.rpartition(":")
    change = next((c for c in plan.changes if c.path == path and c.before is not None), None)
    if change is None or not number.isdigit():
        return where
    line = int(number) - 1
    before = (change.before or "").splitlines()
    matcher = difflib.SequenceMatcher(a=before, b=change.after.splitlines(), autojunk=False)
    for tag, a1, a2, b1, _ in matcher.get_opcodes():
        if a1 <= line < a2:
            return f"{path}:{(b1 + line - a1 if tag == 'equal' else b1) + 1}"
    return where


def manual_steps_left(plan: Plan) -> list[str]:
    """One line per manual step, with its place in the files as written."""
    return [f"manual step left: {after_write(m.where, plan)}: {m.how_to}" for m in plan.manual]
