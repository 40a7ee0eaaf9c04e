"""final-mint: the hybrid mint's opaque fallback (``legacy=lambda: ...``) goes at finalize.

The fixture cases (``fixtures/final_mint/``) are legacy servers taken to the hybrid phase
by the real planner and apply, then finalized; their rewritten files are snapshotted.
"""

from __future__ import annotations

from pathlib import Path

import libcst as cst
from pytest_snapshot.plugin import Snapshot

from migrate.codemods.edits import rewrite
from migrate.codemods.final_mint import final_mint
from migrate.scan.source import SourceTree
from tests.migrate.codemods.cases import check_rewrite, plan_final_case, rewritten, to_hybrid

GROUP = "final_mint"
STEP = "final-mint"


def _hybrid_text(tmp_path: Path, case: str) -> str:
    root = to_hybrid(GROUP, case, tmp_path)
    return (root / f"{case}.py").read_text(encoding="utf-8")


def test_the_hybrid_mint_carries_its_former_expression(tmp_path: Path) -> None:
    """apply keeps the opaque expression as the fallback, word for word."""
    hybrid = _hybrid_text(tmp_path, "prefixed_mint")
    assert 'legacy=lambda: "nt_" + secrets.token_urlsafe(24))' in hybrid


def test_finalize_drops_the_fallback(tmp_path: Path, snapshot: Snapshot) -> None:
    """The final mint is the runtime call alone: no opaque expression left in the tree."""
    plan = check_rewrite(snapshot, GROUP, "prefixed_mint", tmp_path)
    assert STEP in [s.id for s in plan.steps]
    [after] = rewritten(plan).values()
    assert "legacy=" not in after
    assert "secrets.token_urlsafe" not in after


def test_a_mint_called_by_hand_has_no_fallback_and_no_edit(tmp_path: Path) -> None:
    """A mint the operator already wrote as the runtime's call gets no fallback at apply,
    so finalize's mint step has nothing to do (the no-op case)."""
    plan = plan_final_case(GROUP, "noop_mint_by_hand", tmp_path)
    hybrid = (tmp_path / "noop_mint_by_hand.py").read_text(encoding="utf-8")
    assert "mint_access_token(" in hybrid and "legacy=lambda: " not in hybrid
    assert STEP not in [s.id for s in plan.steps]


def test_only_the_fallback_argument_goes(tmp_path: Path) -> None:
    """The other arguments keep their order and spelling; the comma before it goes too."""
    text = (
        "from x import oauth_migration\n"
        "t = oauth_migration.mint_access_token(subject=u, client_id=c,"
        " legacy=lambda: make())\n"
    )
    (tmp_path / "m.py").write_text(text, encoding="utf-8")
    source = SourceTree(tmp_path).files["m.py"]
    after = rewrite(source.module, final_mint(source))
    assert after.splitlines()[1] == "t = oauth_migration.mint_access_token(subject=u, client_id=c)"
    cst.parse_module(after)


def test_a_call_of_another_object_changes_nothing(tmp_path: Path) -> None:
    """``tokens.mint_access_token(legacy=...)`` is not the runtime's: no edit."""
    text = "t = tokens.mint_access_token(subject=u, legacy=lambda: make())\n"
    (tmp_path / "m.py").write_text(text, encoding="utf-8")
    source = SourceTree(tmp_path).files["m.py"]
    assert final_mint(source).edits == []
