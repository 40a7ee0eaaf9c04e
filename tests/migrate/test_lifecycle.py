"""The whole life cycle, on the sample (Starlette) and on flask_blueprint (Flask, waitress).

A module-scoped fixture walks each server once through every phase (see
:mod:`tests.migrate.lifecycle_support`): legacy -> ``apply`` -> hybrid -> ``status`` not
ready -> ``finalize`` refused -> (clock moved past the earliest time) -> ``status`` ready ->
``finalize`` -> final, with the legacy store kept and then emptied -> ``rollback`` ->
hybrid. Every test below checks one thing the walk observed.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from shims.metrics import MetricsReport
from tests.migrate.e2e_support import CommandResult, verify_jwt
from tests.migrate.lifecycle_support import (
    CASES,
    Answer,
    Grant,
    Lifecycle,
    snapshot_difference,
)
from tests.support.oauth_flow import TokenSet, looks_like_jwt

LIFETIME = 3600
SKEW = 60


@pytest.fixture(scope="module", params=CASES, ids=[case.name for case in CASES])
def life(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Lifecycle]:
    """One server walked through every phase; the server is stopped when the walk ends."""
    lifecycle = Lifecycle(request.param, tmp_path_factory.mktemp(request.param.name))
    lifecycle.walk()
    yield lifecycle


def _stamp(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


def _command(life: Lifecycle, name: str) -> CommandResult:
    result: CommandResult = life.get(name)
    return result


def _user(life: Lifecycle) -> str:
    return life.case.user


# -- legacy -> hybrid ------------------------------------------------------------------


def test_apply_enters_the_hybrid_phase(life: Lifecycle) -> None:
    """`migrate apply --yes --allow-dirty` on the legacy copy exits 0 in the hybrid phase."""
    applied = _command(life, "apply")
    assert applied.returncode == 0, applied.describe()
    assert "phase is now hybrid" in applied.stdout, applied.describe()


def test_hybrid_accepts_the_opaque_token_issued_before_apply(life: Lifecycle) -> None:
    """Opaque token A from the legacy server opens /mcp after the apply; whoami names its user."""
    grant: Grant = life.get("legacy.grant")
    assert not looks_like_jwt(grant.tokens.access_token), grant.tokens.access_token
    assert life.get("hybrid.opaque.whoami") == _user(life)


def test_hybrid_accepts_a_fresh_jwt(life: Lifecycle) -> None:
    """A token obtained after the apply is a JWT, and /mcp initialize + whoami accept it."""
    grant: Grant = life.get("hybrid.jwt.grant")
    assert looks_like_jwt(grant.tokens.access_token), grant.tokens.access_token
    assert life.get("hybrid.jwt.whoami") == _user(life)


def test_metrics_count_accepted_jwts(life: Lifecycle) -> None:
    """The hybrid server's metrics file counts accepted JWT validations."""
    report: MetricsReport = life.get("hybrid.metrics")
    assert report.total[("jwt", "accepted")] >= 1, report.total
    assert report.last_hour[("jwt", "accepted")] >= 1, report.last_hour


def test_metrics_count_accepted_opaque_tokens(life: Lifecycle) -> None:
    """The hybrid server's metrics file counts accepted opaque validations and when the last was."""
    report: MetricsReport = life.get("hybrid.metrics")
    assert report.total[("opaque", "accepted")] >= 1, report.total
    assert report.last_opaque_accepted is not None, report
    assert report.first_seen is not None and report.first_seen <= report.last_opaque_accepted


def test_metrics_list_the_client_presenting_opaque_tokens(life: Lifecycle) -> None:
    """The metrics file names the client id of opaque token A among opaque-token clients."""
    report: MetricsReport = life.get("hybrid.metrics")
    grant: Grant = life.get("legacy.grant")
    counts = {usage.client_id: usage.count for usage in report.opaque_clients}
    assert counts.get(grant.client.client_id, 0) >= 1, counts


def test_metrics_counted_just_before_a_stop_reach_the_file(life: Lifecycle) -> None:
    """An opaque validation seconds before the server is stopped (SIGTERM) is in the file."""
    before: dict[tuple[str, str], int] = life.get("hybrid.metrics.before_stop")
    assert life.get("hybrid.opaque.whoami_before_stop") == _user(life)
    after: dict[tuple[str, str], int] = life.get("hybrid.metrics.after_stop")
    assert after[("opaque", "accepted")] > before[("opaque", "accepted")], (before, after)


# -- status and finalize in the hybrid period ------------------------------------------


def test_status_is_not_ready_and_names_the_earliest_time(life: Lifecycle) -> None:
    """`migrate status` right after the hybrid run exits 7: not ready, earliest at a given time."""
    result = _command(life, "hybrid.status.text")
    earliest: float = life.get("hybrid.earliest")
    assert result.returncode == 7, result.describe()
    assert f"verdict: not ready, earliest at {_stamp(earliest)}" in result.stdout, result.describe()


def test_status_json_waits_a_lifetime_after_the_hybrid_start(life: Lifecycle) -> None:
    """`status --format json`: not ready, persistent store, earliest = start + lifetime + skew."""
    result = _command(life, "hybrid.status.json")
    assert result.returncode == 7, result.describe()
    answer: dict[str, Any] = json.loads(result.stdout)
    assert answer["phase"] == "hybrid" and answer["ready"] is False, answer
    assert answer["persistent"] is True, answer
    started = answer["evidence"]["started"]
    assert isinstance(started, float), answer
    assert answer["earliest"] >= started + LIFETIME + SKEW, answer
    assert answer["earliest"] > time.time() + LIFETIME / 2, answer


def test_finalize_refuses_before_ready_and_prints_the_earliest_time(life: Lifecycle) -> None:
    """`migrate finalize` without --force exits 7 naming the earliest time, and changes nothing."""
    result = _command(life, "hybrid.finalize.refused")
    earliest: float = life.get("hybrid.earliest")
    assert result.returncode == 7, result.describe()
    assert f"not ready, earliest at {_stamp(earliest)}" in result.stderr, result.describe()
    assert "refusing" in result.stderr, result.describe()
    before: dict[str, bytes] = life.get("hybrid.tree.before_refusal")
    assert snapshot_difference(before, life.get("hybrid.tree")) == []


def test_status_is_ready_once_the_clock_passes_the_earliest_time(life: Lifecycle) -> None:
    """With OAUTH_MIGRATE_NOW past the earliest time, `migrate status` exits 0: ready."""
    result = _command(life, "ready.status")
    assert result.returncode == 0, result.describe()
    assert "verdict: ready" in result.stdout, result.describe()


def test_finalize_succeeds_once_ready(life: Lifecycle) -> None:
    """`migrate finalize` past the earliest time exits 0, rewrites files, records phase final."""
    result = _command(life, "ready.finalize")
    assert result.returncode == 0, result.describe()
    assert "phase is now final" in result.stdout, result.describe()
    assert life.get("final.phase") == "final"
    assert snapshot_difference(life.get("hybrid.tree"), life.get("final.tree")), "nothing changed"


# -- the final phase -------------------------------------------------------------------


def test_final_refuses_the_opaque_token_with_401(life: Lifecycle) -> None:
    """After finalize and a restart, opaque token A gets 401 at /mcp with a Bearer challenge."""
    answer: Answer = life.get("final.opaque.mcp")
    assert answer.status == 401, answer.describe()
    assert answer.headers.get("www-authenticate", "").lower().startswith("bearer"), answer.headers


def test_final_introspects_the_opaque_token_as_inactive(life: Lifecycle) -> None:
    """Introspecting opaque token A with its own client's credentials answers {"active": false}."""
    answer: Answer = life.get("final.opaque.introspection")
    assert answer.status == 200, answer.describe()
    assert answer.json() == {"active": False}, answer.describe()


def test_final_accepts_the_jwt_minted_before_finalize(life: Lifecycle) -> None:
    """A JWT minted in the hybrid phase still opens /mcp after finalize and a restart."""
    assert life.get("final.old_jwt.whoami") == _user(life)


def test_final_introspects_the_jwt_minted_before_finalize_as_active(life: Lifecycle) -> None:
    """The hybrid-phase JWT introspects active with its user and client after finalize."""
    answer: Answer = life.get("final.old_jwt.introspection")
    grant: Grant = life.get("legacy.grant")
    assert answer.status == 200, answer.describe()
    body = answer.json()
    assert body.get("active") is True, answer.describe()
    assert body.get("sub") == _user(life), answer.describe()
    assert body.get("client_id") == grant.client.client_id, answer.describe()


def test_final_issues_and_accepts_a_new_jwt(life: Lifecycle) -> None:
    """A token obtained after finalize is a JWT that verifies with the JWKS and opens /mcp."""
    grant: Grant = life.get("final.new_jwt.grant")
    metadata: dict[str, Any] = life.get("final.metadata")
    claims = verify_jwt(
        grant.tokens.access_token,
        life.get("final.jwks"),
        issuer=metadata["issuer"],
        audience=life.mcp_url,
    )
    assert claims["sub"] == _user(life), claims
    assert life.get("final.new_jwt.whoami") == _user(life)


def test_final_refresh_rotation_revokes_the_old_jwt(life: Lifecycle) -> None:
    """Redeeming a final-phase refresh token makes the access JWT issued with it get 401."""
    assert life.get("final.rotated.whoami_before") == _user(life)
    refreshed: TokenSet = life.get("final.refreshed")
    assert looks_like_jwt(refreshed.access_token), refreshed.response
    answer: Answer = life.get("final.rotated.mcp_after")
    assert answer.status == 401, answer.describe()


def test_final_refreshed_jwt_is_accepted(life: Lifecycle) -> None:
    """The JWT the refresh grant returned in the final phase opens /mcp."""
    assert life.get("final.refreshed.whoami") == _user(life)


def test_final_jwt_survives_a_restart_on_an_emptied_legacy_store(life: Lifecycle) -> None:
    """With the legacy token store emptied and the server restarted, the earlier JWT still works."""
    assert life.get("emptied.store") == []
    assert life.get("emptied.old_jwt.whoami") == _user(life)


def test_final_revocation_survives_a_restart(life: Lifecycle) -> None:
    """The JWT revoked by refresh rotation still gets 401 after a restart (the jti denylist)."""
    answer: Answer = life.get("emptied.rotated.mcp")
    assert answer.status == 401, answer.describe()


def test_final_serves_new_clients_after_the_store_is_emptied(life: Lifecycle) -> None:
    """On the emptied store a newly registered client gets a JWT that opens /mcp."""
    grant: Grant = life.get("emptied.new_jwt.grant")
    assert looks_like_jwt(grant.tokens.access_token), grant.tokens.access_token
    assert life.get("emptied.new_jwt.whoami") == _user(life)


# -- final -> hybrid -------------------------------------------------------------------


def test_rollback_returns_to_the_hybrid_phase(life: Lifecycle) -> None:
    """`migrate rollback` after finalize exits 0 and the state records the hybrid phase."""
    result = _command(life, "rollback")
    assert result.returncode == 0, result.describe()
    assert re.search(r"phase is now hybrid\b", result.stdout), result.describe()
    assert life.get("rollback.phase") == "hybrid"


def test_rollback_restores_the_hybrid_tree_byte_for_byte(life: Lifecycle) -> None:
    """After rollback every file (state included) has the bytes it had before finalize."""
    assert snapshot_difference(life.get("hybrid.tree"), life.get("rollback.tree")) == []


def test_after_rollback_a_jwt_from_the_final_phase_works(life: Lifecycle) -> None:
    """A JWT minted in the final phase (and stored by the legacy code) opens /mcp after rollback."""
    assert life.get("rolled_back.final_jwt.whoami") == _user(life)


def test_after_rollback_a_fresh_jwt_works(life: Lifecycle) -> None:
    """After rollback and a restart, a newly obtained JWT opens /mcp."""
    grant: Grant = life.get("rolled_back.fresh.grant")
    assert looks_like_jwt(grant.tokens.access_token), grant.tokens.access_token
    assert life.get("rolled_back.fresh.whoami") == _user(life)
