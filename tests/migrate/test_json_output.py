"""`--format json` of every command that reports, errors included, against the versioned
schemas in tests/migrate/schemas/ (``"schema": "oauth-migrate/<command>/1"``)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from tests.migrate.cli_support import Ran, migrate
from tests.migrate.test_status import record_hybrid_run
from tests.migrate.tree_support import copy_sample
from tests.support.server_process import free_port

SCHEMAS = Path(__file__).with_name("schemas")


def valid(ran: Ran, name: str, code: int) -> dict[str, Any]:
    """The one JSON object on stdout, checked against schemas/<name>.json; its code."""
    assert ran.code == code, ran
    document: dict[str, Any] = json.loads(ran.stdout)
    schema = json.loads((SCHEMAS / f"{name}.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    errors = [e.message for e in Draft202012Validator(schema).iter_errors(document)]
    assert errors == [], errors
    assert document["exit_code"] == code
    return document


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_sample(tmp_path / "project")


def test_plan_json_has_its_schema(project: Path) -> None:
    """`plan --format json`: the plan, pending, exit 2."""
    document = valid(migrate("plan", "--format", "json", str(project)), "plan", 2)
    assert document["pending"] is True


def test_plan_json_is_a_plan_apply_accepts(project: Path, tmp_path: Path) -> None:
    """The JSON `plan` prints can be saved and applied with `apply --plan`."""
    saved = tmp_path / "plan.json"
    saved.write_text(migrate("plan", "--format", "json", str(project)).stdout, encoding="utf-8")
    document = valid(migrate("apply", "--format", "json", "--plan", str(saved)), "apply", 0)
    assert document["phase"] == "hybrid"


def test_the_life_cycle_in_json(project: Path) -> None:
    """apply, status (not ready, ready), finalize, status (final), rollback x2, keys list."""
    planned = json.loads(migrate("plan", "--format", "json", str(project)).stdout)
    applied = valid(migrate("apply", "--yes", "--format", "json", str(project)), "apply", 0)
    assert applied["keys_generated"] is True
    assert applied["written"] == [change["path"] for change in planned["changes"]]
    keys = project / ".oauth-migration" / "keys"
    listed = valid(
        migrate("keys", "list", "--format", "json", "--keys-dir", str(keys)), "keys-list", 0
    )
    assert [k["state"] for k in listed["keys"]] == ["active"]
    started = time.time()
    record_hybrid_run(project, started=started, opaque=[(started + 1, "client-a")])
    waiting = valid(migrate("status", "--format", "json", str(project)), "status", 7)
    assert waiting["ready"] is False and waiting["evidence"]["started_iso"]
    later = {"OAUTH_MIGRATE_NOW": str(started + 3 * 3600)}
    valid(migrate("status", "--format", "json", str(project), env=later), "status", 0)
    args = ("finalize", "--yes", "--allow-dirty", "--format", "json", str(project))
    assert valid(migrate(*args, env=later), "finalize", 0)["phase"] == "final"
    assert valid(migrate("status", "--format", "json", str(project)), "status", 0)["ready"]
    undone = valid(migrate("rollback", "--format", "json", str(project)), "rollback", 0)
    assert undone["phase"] == "hybrid"
    undone = valid(migrate("rollback", "--yes", "--format", "json", str(project)), "rollback", 0)
    assert undone["phase"] == "legacy"


def test_verify_json_has_its_schema() -> None:
    """`verify --format json` against a closed port: one FAIL check, exit 8."""
    document = valid(
        migrate("verify", "--format", "json", f"http://127.0.0.1:{free_port()}"), "verify", 8
    )
    assert [c["id"] for c in document["checks"]] == ["connect"]


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["plan", "--format", "json", "/does/not/exist"], 1),
        (["plan", "--format=json", "--bogus"], 64),
        (["verify", "--format", "json", "http://[::1"], 64),
        (["keys", "list", "--format", "json", "--keys-dir", "/does/not/exist"], 1),
    ],
)
def test_errors_in_json_mode_are_json_on_stdout(args: list[str], code: int) -> None:
    """An error with --format json is one JSON object on stdout: error and exit_code."""
    ran = migrate(*args)
    document = valid(ran, "error", code)
    assert document["error"]
    assert ran.stderr == ""
