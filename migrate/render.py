"""The plan as a person reads it (text) or a program does (JSON)."""

from __future__ import annotations

import difflib

from migrate.plan import Plan
from migrate.scan.findings import blocks


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


def render_text(plan: Plan) -> str:
    lines = [f"oauth-migrate plan for {plan.root} ({plan.phase_from} -> {plan.phase_to})", ""]
    lines.append("Findings")
    width = max((len(f["where"]) for f in plan.findings), default=0)
    for finding in plan.findings:
        lines.append(f"  {finding['kind']:<9} {finding['where']:<{width}}  {finding['detail']}")
    lines += ["", "Steps"]
    if not plan.steps:
        lines.append("  nothing to do")
    for index, step in enumerate(plan.steps, 1):
        lines.append(f"  {index:>2}. {step.id:<16} {step.safety:<7} {step.title}")
        if step.safety == "safe":
            lines += [f"        {path}" for path in step.files]
    if plan.blocked_by:
        lines += ["", "Apply is blocked until these manual steps are done (then plan again)"]
        lines += [f"  {item}" for item in plan.blocked_by]
    if plan.manual:
        lines += ["", "Manual steps (apply will not do these)"]
        for manual in plan.manual:
            flag = "  [blocks: nothing is written until it is done]" if blocks(manual) else ""
            lines.append(f"  {manual['where']}: {manual['expected']}{flag}")
            lines.append(f"      do by hand: {manual['todo']}")
            lines.append(f"      see MIGRATION.md, {manual['guide']}")
    emitted = [c.path for c in plan.changes if c.emitted]
    if emitted:
        lines += ["", f"Runtime package ({len(emitted)} files, created as they are in shims/)"]
        lines += [f"  {path}" for path in emitted]
    if plan.notes:
        lines += ["", *plan.notes]
    diff = unified_diff(plan)
    if diff:
        lines += ["", "Diff", diff.rstrip("\n")]
    return "\n".join(lines) + "\n"


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
    return [f"manual step left: {after_write(m['where'], plan)}: {m['todo']}" for m in plan.manual]
