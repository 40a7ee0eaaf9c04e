"""final-gate (#8): the record rebuilt from the claims has every field the gate reads.

The fixture cases (``fixtures/final_gate/``) are legacy servers taken to the hybrid phase
by the real planner and apply, then finalized; their rewritten files are snapshotted.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_snapshot.plugin import Snapshot

from migrate.codemods.edits import rewrite
from migrate.codemods.final_gate import final_gate
from migrate.scan.record_writes import find_record_writes
from migrate.scan.source import SourceTree
from tests.migrate.codemods.cases import (
    check_rewrite,
    plan_final_case,
    rewritten,
    second_final_run,
)

GROUP = "final_gate"
STEP = "final-gate"
# Case -> the record shape and time shape it pins (the snapshot holds the whole text).
REWRITES = {
    "dataclass_epoch": "a positional dataclass constructor; expiry epoch seconds -> c.exp",
    "dict_iso_expiry": "a dict literal; expiry .isoformat() -> c.exp_iso; revoked by name",
    "sql_columns_datetime": "SQL INSERT columns -> oauth_migration.row; aware datetime",
    "async_class_keywords": "a keyword constructor of a plain class; resolve_async",
}
EXPECTED_RECORDS = {
    "dataclass_epoch": "record=lambda c: Grant(c.sub, c.client_id, c.scope, c.exp)",
    "dict_iso_expiry": 'record=lambda c: {"username": c.sub, "client_id": c.client_id, '
    '"scope": c.scope, "expires": c.exp_iso, "revoked": False}',
    "sql_columns_datetime": 'record=lambda c: oauth_migration.row({"account_id": c.sub, '
    '"scope": c.scope, "expires_at": c.exp_datetime})',
    "async_class_keywords": "await oauth_migration.resolve_async(creds.credentials, "
    "record=lambda c: Session(sub=c.sub, client_id=c.client_id, scope=c.scope, expiry=c.exp))",
}

HYBRID = """from .oauth_migration.wiring import migration as oauth_migration

TOKENS = {}


def issue(user_id, client_id, scope):
    access_token = oauth_migration.mint_access_token(
        subject=user_id, client_id=client_id, scope=scope
    )
    TOKENS[access_token] = {"user": user_id, "client_id": client_id}
    return access_token


def gate(token):
    record = oauth_migration.resolve(token, legacy=lambda t: TOKENS.get(t))
    if record is None or record["revoked"] or record.expires_at < 0:
        return None
    return record["user"], record.get("scope")
"""


def _final(tmp_path: Path, text: str) -> tuple[str, list[str]]:
    (tmp_path / "app.py").write_text(text, encoding="utf-8")
    tree = SourceTree(tmp_path)
    [write], _ = find_record_writes(tree)
    source = tree.files["app.py"]
    edits, manual = final_gate(source, write, tree)
    return rewrite(source.module, edits), [f"{m.where}: {m.expected}" for m in manual]


# The gate hands its record to a helper of its module, which reads the fields.
HELPER = HYBRID.replace(
    'record is None or record["revoked"] or record.expires_at < 0',
    "record is None or not _usable(record)",
).replace(
    "def gate(token):",
    'def _usable(entry):\n    return not entry["revoked"] and entry["expires_at"] > 0\n\n\n'
    "def gate(token):",
)
SUPPLIED = (
    'record=lambda c: {"user": c.sub, "client_id": c.client_id, "revoked": False, '
    '"expires_at": c.exp, "scope": c.scope}'
)


@pytest.mark.parametrize("text", [HYBRID, HELPER], ids=["in-the-gate", "in-a-helper"])
def test_issue_8_fields_the_gate_reads_are_supplied_by_name(tmp_path: Path, text: str) -> None:
    """#8: revoked, expires_at and scope, read but never written (by the gate, or by a
    helper it hands the record to), come from their names; without them every JWT request
    would raise a KeyError."""
    after, manual = _final(tmp_path, text)
    assert manual == []
    assert SUPPLIED in after


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (HYBRID.replace('record.get("scope")', 'record["tenant"]'), 18),
        (HELPER.replace('entry["expires_at"] > 0', 'entry["tenant"] == "acme"'), 15),
    ],
    ids=["in-the-gate", "in-a-helper"],
)
def test_issue_8_a_read_no_claim_gives_is_a_blocking_step(
    tmp_path: Path, text: str, line: int
) -> None:
    """#8: a field the gate (or its helper) reads that neither the write nor its name gives
    names its line."""
    _, manual = _final(tmp_path, text)
    assert manual == [
        f"app.py:{line}: the gate reads `tenant` from the legacy record, and no JWT claim gives it"
    ]


ORM = """import time

from sqlalchemy import Boolean, Column, DateTime, Integer, String
from sqlalchemy.orm import declarative_base

from .oauth_migration.wiring import migration as oauth_migration

Base = declarative_base()


class AccessToken(Base):
    __tablename__ = "tokens"
    token = Column(String, primary_key=True)
    user_id = Column(String, nullable=False)
    expires_at = Column(Integer, nullable=False)
    revoked = Column(Boolean, default=False)


def issue(db, user_id, client_id):
    access = oauth_migration.mint_access_token(subject=user_id, client_id=client_id)
    db.add(AccessToken(token=access, user_id=user_id))
    return access


def gate(db, token):
    record = oauth_migration.resolve(
        token, legacy=lambda t: db.query(AccessToken).filter(AccessToken.token == t).first()
    )
    if record is None or record.revoked or record.expires_at < time.time():
        return None
    return record.user_id
"""


@pytest.mark.parametrize(
    ("column", "expiry"),
    [
        ("Column(Integer, nullable=False)", "c.exp"),
        ("Column(DateTime, nullable=False)", "c.exp_datetime_naive"),
        ("Column(DateTime(timezone=True))", "c.exp_datetime"),
        ("mapped_column()", "c.exp_datetime_naive"),
    ],
    ids=["integer", "naive-datetime", "aware-datetime", "mapped-datetime"],
)
def test_orm_columns_the_gate_reads_are_supplied_typed(
    tmp_path: Path, column: str, expiry: str
) -> None:
    """An ORM record written without ``expires_at`` and ``revoked`` (server defaults) gets
    both, ``expires_at`` typed as its column is declared: the constructor takes every
    mapped column, and a missing one read as ``None < time.time()`` would raise on every
    JWT."""
    declared = "expires_at: Mapped[datetime] = " if column == "mapped_column()" else "expires_at = "
    text = ORM.replace("expires_at = Column(Integer, nullable=False)", declared + column)
    after, manual = _final(tmp_path, text)
    assert manual == []
    assert (
        "record=lambda c: AccessToken(token=c.token, user_id=c.sub, revoked=False, "
        f"expires_at={expiry})"
    ) in after


def test_a_record_class_not_in_the_tree_cannot_carry_a_field_by_name(tmp_path: Path) -> None:
    """A class the tree does not define (imported from elsewhere) may not take
    ``expires_at``: read but not written, it is a blocking step, not a finalized gate that
    raises on every JWT (``AccessToken(...)`` without it had ``None`` there)."""
    text = ORM.replace("class AccessToken(Base):", "class OtherModel(Base):")
    _, manual = _final(tmp_path, text)
    assert [m.split(": ", 1)[1] for m in manual] == [
        "the gate reads `revoked` from the legacy record, and no JWT claim gives it",
        "the gate reads `expires_at` from the legacy record, and no JWT claim gives it",
    ]


def test_a_gate_already_final_changes_nothing(tmp_path: Path) -> None:
    """The final gate's own output (``record=``, no ``legacy=``) gets no edit."""
    after, manual = _final(tmp_path, HYBRID)
    again, manual_again = _final(tmp_path, after)
    assert (again, manual_again) == (after, manual)


def test_a_time_written_through_a_local_keeps_its_type(tmp_path: Path) -> None:
    """An expiry stored from a local (``until = datetime.now(utc) + ttl``) stays a datetime."""
    text = HYBRID.replace(
        'TOKENS[access_token] = {"user": user_id, "client_id": client_id}',
        "until = datetime.now(timezone.utc) + timedelta(hours=1)\n"
        '    TOKENS[access_token] = {"user": user_id, "client_id": client_id, "expires_at": until}',
    ).replace("TOKENS = {}", "from datetime import datetime, timedelta, timezone\n\nTOKENS = {}")
    after, _ = _final(tmp_path, text)
    assert '"expires_at": c.exp_datetime' in after


@pytest.mark.parametrize("case", sorted(REWRITES))
def test_each_record_shape_is_rebuilt_from_the_claims(
    case: str, tmp_path: Path, snapshot: Snapshot
) -> None:
    """Each record shape and time shape of a hybrid gate becomes its JWT-only record."""
    plan = check_rewrite(snapshot, GROUP, case, tmp_path)
    assert STEP in [s.id for s in plan.steps]
    assert (plan.manual, plan.blocked_by) == ([], [])
    [after] = rewritten(plan).values()
    assert EXPECTED_RECORDS[case] in after
    assert "legacy=" not in after


@pytest.mark.parametrize("case", sorted(REWRITES))
def test_finalizing_the_output_again_changes_nothing(case: str, tmp_path: Path) -> None:
    """A finalized gate planned again gets no edit (the codemod is idempotent)."""
    plan = second_final_run(GROUP, case, tmp_path)
    assert rewritten(plan) == {}
    assert STEP not in [s.id for s in plan.steps]


def test_a_read_no_claim_gives_blocks_finalize(tmp_path: Path) -> None:
    """``record["tenant"]``, never written and not a claim, is a blocking step at its line."""
    plan = plan_final_case(GROUP, "read_no_claim_gives", tmp_path)
    where = "read_no_claim_gives.py:37"
    [step] = plan.manual
    assert (step.where, step.blocks_apply) == (where, True)
    assert "`tenant`" in step.expected
    assert plan.blocked_by == [f"{where}: {step.expected}"]
