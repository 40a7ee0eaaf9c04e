"""A plan saved to a file (`plan --out`) and read back (`apply --plan`).

A saved plan is what a person reviewed: one that cannot be parsed or was edited into
something that is not a plan is refused as stale (exit 4), never half-applied. The
``plan --format json`` document is accepted too (it is a saved plan plus its schema name
and exit code).
"""

from __future__ import annotations

import json
from pathlib import Path

from migrate.errors import PlanFileError, StalePlan
from migrate.plan import Plan

# What `plan --format json` adds to a saved plan.
DOCUMENT_FIELDS = ("schema", "exit_code", "pending")


def check_out(out: Path) -> None:
    """Refuse an ``--out`` whose folder does not exist, before the tree is read."""
    if not out.parent.is_dir():
        raise PlanFileError(f"--out {out}: no such folder {out.parent}")


def save_plan(plan: Plan, out: Path) -> None:
    """Write ``plan`` to ``out``; a failure names the file and why."""
    try:
        out.write_text(plan.to_json(), encoding="utf-8")
    except OSError as problem:
        reason = problem.strerror or str(problem)
        if not out.parent.is_dir():
            reason = f"no such folder {out.parent}"
        raise PlanFileError(f"--out {out}: cannot write the plan ({reason})") from None


def load_plan(plan_file: Path) -> Plan:
    """The plan in ``plan_file``: StalePlan if it is malformed or edited, PlanFileError
    if it cannot be read."""
    try:
        text = plan_file.read_text(encoding="utf-8")
        data = json.loads(text)
        if isinstance(data, dict) and "schema" in data:
            for added in DOCUMENT_FIELDS:
                data.pop(added, None)
            text = json.dumps(data)
        return Plan.from_json(text)
    except (ValueError, UnicodeDecodeError) as problem:
        raise StalePlan(f"{plan_file}: {problem}") from None
    except OSError as problem:
        raise PlanFileError(f"{plan_file}: cannot read ({problem.strerror})") from None
