"""Fixture servers whose tokens live in memory: their own tests pass against the hybrid phase.

The end-to-end suite (test_end_to_end.py) carries grants across the restart that deploys
the migration, which a server keeping every token in memory cannot do; for such a
server the legacy suite it ships with is run, unchanged, against its migrated copy (its
conftest starts the copy from START), beside the harness run of test_zoo_acceptance.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.migrate.e2e_support import FIXTURE_SERVERS, copy_tree, migrate_to_hybrid, run_pytest

IN_MEMORY = ("fastapi_pydantic_helper",)


@pytest.mark.parametrize("name", IN_MEMORY)
def test_own_tests_pass_against_the_hybrid_phase(name: str, tmp_path: Path) -> None:
    """Every one of the server's own tests passes on the migrated (hybrid) copy."""
    root = copy_tree(FIXTURE_SERVERS / name, tmp_path / name)
    migrate_to_hybrid(root, allow_dirty=True)
    own = [p for p in root.rglob("*.py") if "oauth_migration" not in p.parts]
    assert any("oauth_migration.mint_access_token(" in p.read_text(encoding="utf-8") for p in own)
    outcome = run_pytest(["tests"], cwd=root, report=tmp_path / "report.xml")
    assert outcome.failed == {}, outcome.run.describe()
    assert outcome.passed and not outcome.skipped
