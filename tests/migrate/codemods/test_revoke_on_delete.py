"""revoke-on-delete (finding 2): every spelling of a token delete gets ``revoke()`` at apply.

Each case is a legacy store module with an opaque mint and its delete paths; `apply`'s
plan must put ``oauth_migration.revoke(<the access token>)`` before each delete (the
snapshot), or make the delete a blocking manual step naming its line, or leave a delete of
something else alone.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_snapshot.plugin import Snapshot

from migrate.plan import Plan
from tests.migrate.codemods.cases import (
    check_rewrite,
    plan_case,
    rewritten,
    second_final_run,
    second_run,
)

GROUP = "revoke_on_delete"
STEP = "revoke-on-delete"
REWRITES = {
    "sqlite_named_param": "`DELETE ... WHERE token = :token` with a dict of parameters",
    "psycopg_pyformat": "`%s` and `%(token)s` (psycopg), one with a second condition",
    "extra_condition": "a lowercase, multi-line DELETE with `AND kind IN (...)`",
    "soft_delete": "UPDATEs setting revoked, expires_at or revoked_at",
    "redis_client": "`r.delete(key)` of a prefixed key, directly and through a variable",
    "mongo_collection": "`delete_one({...})` and `update_one` setting revoked",
    "sqlalchemy_orm": "`Model.query.filter_by(token=...).delete()` and `session.delete(obj)`",
}


def _delete_steps(plan: Plan) -> list[dict[str, str]]:
    return [m for m in plan.manual if m.guide == "Manual steps: revocation"]


@pytest.mark.parametrize("case", sorted(REWRITES))
def test_finding_2_each_delete_spelling_gets_revoke(
    case: str, tmp_path: Path, snapshot: Snapshot
) -> None:
    """Finding 2: each spelling of a token delete gets revoke() before it, and no manual step."""
    plan = check_rewrite(snapshot, GROUP, case, tmp_path)
    assert STEP in [s.id for s in plan.steps]
    assert _delete_steps(plan) == []


@pytest.mark.parametrize("case", sorted(REWRITES))
def test_revoke_lines_are_added_once(case: str, tmp_path: Path) -> None:
    """Planning an applied case again adds no second revoke() (the codemod is idempotent)."""
    assert rewritten(second_run(GROUP, case, tmp_path)) == {}


@pytest.mark.parametrize(
    ("case", "line", "expected"),
    [
        ("keyed_by_user", 17, "DELETE FROM tokens keyed by user_id, not by the access token"),
        ("sql_in_variable", 7, "delete on tokens written as a value, run elsewhere"),
    ],
)
def test_finding_2_delete_that_cannot_revoke_blocks_apply(
    case: str, line: int, expected: str, tmp_path: Path
) -> None:
    """Finding 2: a delete whose access token cannot be named blocks apply, naming file:line."""
    plan = plan_case(GROUP, case, tmp_path)
    where = f"{case}.py:{line}"
    [step] = _delete_steps(plan)
    assert (step.where, step.blocks_apply) == (where, True)
    assert step.expected.startswith(expected)
    assert any(item.startswith(f"{where}: {expected}") for item in plan.blocked_by)


def test_deletes_of_other_things_get_no_step(tmp_path: Path) -> None:
    """A DELETE on audit_log, an UPDATE of users and dict.pop on settings produce no step."""
    plan = plan_case(GROUP, "unrelated_deletes", tmp_path)
    assert STEP not in [s.id for s in plan.steps]
    assert _delete_steps(plan) == []
    assert [f for f in plan.findings if f.kind == "delete"] == []


def test_finalize_adds_revoke_where_an_older_apply_did_not(
    tmp_path: Path, snapshot: Snapshot
) -> None:
    """A hybrid tree whose logout pops the token with no revoke() gets it at finalize."""
    plan = check_rewrite(snapshot, GROUP, "final_logout_pop", tmp_path)
    assert STEP in [s.id for s in plan.steps]
    assert (_delete_steps(plan), plan.blocked_by) == ([], [])
    [after] = rewritten(plan).values()
    assert "    oauth_migration.revoke(presented)\n    ACTIVE.pop(" in after


def test_finalize_adds_revoke_once(tmp_path: Path) -> None:
    """Finalizing the finalized logout again adds no second revoke()."""
    assert rewritten(second_final_run(GROUP, "final_logout_pop", tmp_path)) == {}
