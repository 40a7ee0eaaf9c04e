"""The phase changes as the commands run them: plan, check, ask, write.

Each function is what one command does to the tree; the command only parses options,
renders the plan and the result, and supplies ``ask`` (the confirmation prompt, called
after every check passed and before anything is written). Every refusal is a
:mod:`migrate.errors` class carrying its exit code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from migrate.apply import ApplyResult, apply_plan, check_plan
from migrate.finalizer import plan_final
from migrate.plan import Plan
from migrate.planner import check_selection, plan_hybrid
from migrate.readiness import check_ready

Ask = Callable[[], None]
Warn = Callable[[str], None]


def plan_tree(
    path: Path, only: Iterable[str] = (), skip: Iterable[str] = (), exclude: Iterable[str] = ()
) -> Plan:
    """The legacy -> hybrid plan of a selection of steps; a selection that would leave
    the server calling a runtime it does not install is refused."""
    check_selection(only, skip)
    return plan_hybrid(path, only, skip, exclude)


def apply_tree(plan: Plan, path: Path, allow_dirty: bool, ask: Ask) -> ApplyResult | None:
    """Check ``plan`` against the tree, ask, write it; None when nothing is pending
    (also when no recipe recognised a server: the plan has no step)."""
    if not plan.pending:
        return None
    check_plan(plan, path, allow_dirty)
    ask()
    return apply_plan(plan, path)


def final_plan(path: Path, exclude: Iterable[str] = ()) -> Plan:
    """The hybrid -> final plan (`finalize --plan-only` shows it)."""
    return plan_final(path, exclude)


def finalize_tree(
    plan: Plan,
    path: Path,
    *,
    prometheus: str | None,
    force: bool,
    allow_dirty: bool,
    ask: Ask,
    warn: Warn,
) -> ApplyResult | None:
    """Check readiness and ``plan``, ask, write it; None when nothing is pending.

    A blocked plan is refused before readiness is read: waiting cannot help it (``force``
    neither). The plan is checked again after readiness, since a file may have been
    edited meanwhile."""
    if not plan.pending:
        return None
    if plan.blocked_by:
        check_plan(plan, path, allow_dirty)
    readiness = check_ready(path, prometheus, force)
    if readiness.warning is not None:
        warn(readiness.warning)
    check_plan(plan, path, allow_dirty)
    ask()
    return apply_plan(plan, path)
