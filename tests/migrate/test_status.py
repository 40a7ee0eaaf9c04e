"""`migrate status`: the verdict rules, the evidence read from the metrics file, the command.

The trees here are made by hand (a state file, a generated ``wiring.py``, a metrics file
written with :class:`shims.metrics.Metrics` on a fixed clock), so every time is exact;
one test reads a real ``apply`` of the sample.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from migrate import __version__, emit
from migrate.cli import cli
from migrate.state import Applied, State, state_path
from migrate.status import (
    ENV_NOW,
    SKEW,
    WINDOW,
    Evidence,
    StatusError,
    fleet_counts,
    now,
    status,
    verdict,
)
from tests.migrate.lifecycle_support import METRICS_FILE, record_hybrid_run
from tests.migrate.tree_support import copy_sample

T0 = 1_800_000_000.0  # the hybrid start in every test: a round, fixed Unix time
LIFETIME = 3600


def _stamp(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


def _evidence(
    started: float | None = T0,
    minted: float | None = None,
    accepted: float | None = None,
) -> Evidence:
    return Evidence(started=started, last_opaque_minted=minted, last_opaque_accepted=accepted)


def make_tree(
    root: Path, *, phase: str = "hybrid", persistent: bool = True, lifetime: int = LIFETIME
) -> Path:
    """A tree in ``phase`` as `apply` leaves it, as far as `status` reads it."""
    history = []
    wiring_rel = f"app/{emit.PACKAGE}/wiring.py"
    written = emit.wiring("app", mode="hybrid", lifetime=lifetime)
    files: dict[str, dict[str, str | None]] = {wiring_rel: {"before": None, "after": written}}
    if phase != "legacy":
        history.append(Applied("legacy", "hybrid", __version__, T0 - 60, files, True, persistent))
    if phase == "final":
        history.append(Applied("hybrid", "final", __version__, T0, {}, False, persistent))
    path = state_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(State(phase, history).to_json(), encoding="utf-8")
    wiring = root / wiring_rel
    wiring.parent.mkdir(parents=True)
    wiring.write_text(written, encoding="utf-8")
    return root


def run_status(root: Path, *args: str, at: float | None = None) -> Result:
    env = {ENV_NOW: None if at is None else repr(at)}
    return CliRunner().invoke(cli, ["status", str(root), *args], env=env)


# -- the verdict -----------------------------------------------------------------------


def test_no_evidence_is_not_ready() -> None:
    """Without a hybrid start reported, the verdict is not ready, with no earliest time."""
    ready, earliest, reason = verdict(_evidence(started=None), True, LIFETIME, T0 + 10**6)
    assert (ready, earliest) == (False, None)
    assert "no hybrid server has reported" in reason


def test_persistent_store_waits_a_lifetime_plus_skew_from_the_start() -> None:
    """A persistent store: earliest = hybrid start + access-token lifetime + clock skew."""
    ready, earliest, reason = verdict(_evidence(), True, LIFETIME, T0 + LIFETIME)
    assert not ready
    assert earliest == T0 + LIFETIME + SKEW
    assert f"live until {_stamp(T0 + LIFETIME + SKEW)}" in reason


def test_ready_from_the_earliest_time_on() -> None:
    """At the earliest time itself (and later) the verdict is ready; one second before, not."""
    earliest = T0 + LIFETIME + SKEW
    assert verdict(_evidence(), True, LIFETIME, earliest - 1)[0] is False
    assert verdict(_evidence(), True, LIFETIME, earliest) == (
        True,
        earliest,
        "no opaque token can still be alive or in use",
    )
    assert verdict(_evidence(), True, LIFETIME, earliest + 86400)[0] is True


def test_lifetime_sets_the_wait_for_a_persistent_store() -> None:
    """A shorter access-token lifetime shortens the wait by as much."""
    assert verdict(_evidence(), True, 600, T0)[1] == T0 + 600 + SKEW


def test_memory_store_waits_only_the_skew() -> None:
    """A store in memory lost its opaque tokens at the restart: earliest = start + skew."""
    ready, earliest, reason = verdict(_evidence(), False, LIFETIME, T0 + SKEW - 1)
    assert not ready
    assert earliest == T0 + SKEW
    assert "in memory" in reason
    assert verdict(_evidence(), False, LIFETIME, T0 + SKEW)[0] is True


def test_opaque_mint_after_the_start_moves_the_earliest_time() -> None:
    """An opaque token minted after the hybrid start counts as the last mint."""
    minted = T0 + 500
    ready, earliest, reason = verdict(_evidence(minted=minted), True, LIFETIME, T0 + LIFETIME)
    assert not ready
    assert earliest == minted + LIFETIME + SKEW
    assert f"minted up to {_stamp(minted)}" in reason


def test_opaque_mint_before_the_start_does_not_move_it() -> None:
    """A mint recorded before the hybrid start leaves the start as the last mint."""
    assert verdict(_evidence(minted=T0 - 500), True, LIFETIME, T0)[1] == T0 + LIFETIME + SKEW


def test_last_opaque_acceptance_pushes_the_earliest_time() -> None:
    """An opaque token accepted late needs a full quiet window after it."""
    accepted = T0 + 1000
    ready, earliest, reason = verdict(_evidence(accepted=accepted), True, LIFETIME, T0 + 4000)
    assert not ready
    assert earliest == accepted + WINDOW
    assert f"accepted at {_stamp(accepted)}" in reason
    assert verdict(_evidence(accepted=accepted), True, LIFETIME, accepted + WINDOW)[0] is True


def test_early_opaque_acceptance_does_not_shorten_the_wait() -> None:
    """An acceptance whose quiet window ends before start + lifetime + skew changes nothing."""
    ready, earliest, reason = verdict(_evidence(accepted=T0 + 10), True, LIFETIME, T0)
    assert earliest == T0 + LIFETIME + SKEW
    assert "live until" in reason


def test_memory_store_still_waits_a_quiet_window_after_an_acceptance() -> None:
    """Even with a store in memory, an opaque acceptance holds the verdict for the window."""
    accepted = T0 + 30
    ready, earliest, _ = verdict(_evidence(accepted=accepted), False, LIFETIME, T0 + SKEW)
    assert not ready
    assert earliest == accepted + WINDOW


# -- status(): the evidence in the metrics file -----------------------------------------


def test_status_reads_the_metrics_file(tmp_path: Path) -> None:
    """status() reads the start, the last opaque acceptance, the counts and the clients."""
    root = make_tree(tmp_path)
    record_hybrid_run(
        root, started=T0, opaque=[(T0 + 5, "client-a"), (T0 + 7, "client-a")], jwt=[(T0 + 6, "b")]
    )
    result = status(root, at=T0 + 10)
    evidence = result.evidence
    assert evidence.started == T0
    assert evidence.last_opaque_accepted == T0 + 7
    assert evidence.last_opaque_minted is None
    assert evidence.last_hour == {
        "jwt_accepted": 1,
        "jwt_rejected": 0,
        "opaque_accepted": 2,
        "opaque_rejected": 0,
    }
    assert evidence.last_day == evidence.last_hour
    assert evidence.opaque_clients == [{"client_id": "client-a", "count": 2, "last_seen": T0 + 7}]
    assert evidence.source == str(root.resolve() / METRICS_FILE)
    assert (result.phase, result.persistent, result.lifetime) == ("hybrid", True, LIFETIME)
    assert (result.ready, result.earliest) == (False, T0 + LIFETIME + SKEW)


def test_status_is_ready_on_an_injected_clock(tmp_path: Path) -> None:
    """status(at=...) judges at the given time: ready once it passes the earliest time."""
    root = make_tree(tmp_path)
    record_hybrid_run(root, started=T0, opaque=[(T0 + 5, "client-a")])
    assert status(root, at=T0 + LIFETIME + SKEW - 1).ready is False
    assert status(root, at=T0 + LIFETIME + SKEW).ready is True


def test_status_reads_the_lifetime_from_the_wiring(tmp_path: Path) -> None:
    """The access-token lifetime comes from the generated wiring.py."""
    root = make_tree(tmp_path, lifetime=900)
    record_hybrid_run(root, started=T0)
    result = status(root, at=T0)
    assert result.lifetime == 900
    assert result.earliest == T0 + 900 + SKEW


def test_status_uses_the_store_kind_apply_recorded(tmp_path: Path) -> None:
    """A store recorded as in memory waits only the skew after the hybrid start."""
    root = make_tree(tmp_path, persistent=False)
    record_hybrid_run(root, started=T0)
    result = status(root, at=T0 + SKEW)
    assert result.persistent is False
    assert (result.ready, result.earliest) == (True, T0 + SKEW)


def test_status_counts_a_late_opaque_mint(tmp_path: Path) -> None:
    """An opaque mint in the metrics file after the start moves the earliest time."""
    root = make_tree(tmp_path)
    record_hybrid_run(root, started=T0, opaque_minted=[(T0 + 300, "client-a")])
    result = status(root, at=T0)
    assert result.evidence.last_opaque_minted == T0 + 300
    assert result.earliest == T0 + 300 + LIFETIME + SKEW


def test_status_pushed_by_the_last_opaque_acceptance(tmp_path: Path) -> None:
    """An opaque acceptance late in the metrics file holds status for the quiet window."""
    root = make_tree(tmp_path)
    record_hybrid_run(root, started=T0, opaque=[(T0 + 2000, "client-a")])
    result = status(root, at=T0 + LIFETIME + SKEW)
    assert (result.ready, result.earliest) == (False, T0 + 2000 + WINDOW)


def test_status_sums_every_instance(tmp_path: Path) -> None:
    """Two servers writing one file: the earliest start and every client count."""
    root = make_tree(tmp_path)
    record_hybrid_run(root, started=T0 + 50, opaque=[(T0 + 60, "a")], instance="one:1")
    record_hybrid_run(root, started=T0, opaque=[(T0 + 70, "b"), (T0 + 71, "a")], instance="two:2")
    evidence = status(root, at=T0 + 100).evidence
    assert evidence.started == T0
    assert evidence.last_opaque_accepted == T0 + 71
    counts = {c["client_id"]: c["count"] for c in evidence.opaque_clients}
    assert counts == {"a": 2, "b": 1}


def test_status_without_a_metrics_file_raises(tmp_path: Path) -> None:
    """No metrics file: StatusError asking whether the hybrid server has run."""
    root = make_tree(tmp_path)
    with pytest.raises(StatusError, match=r"does not exist: has the hybrid server run yet\?$"):
        status(root, at=T0)


@pytest.mark.parametrize("phase", ["legacy", "final"])
def test_status_outside_the_hybrid_phase_raises(tmp_path: Path, phase: str) -> None:
    """A tree in the legacy or final phase has no hybrid period to judge."""
    root = make_tree(tmp_path, phase=phase)
    record_hybrid_run(root, started=T0)
    with pytest.raises(StatusError, match=f"in the {phase} phase, not the hybrid one"):
        status(root, at=T0)


def test_now_reads_the_test_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """OAUTH_MIGRATE_NOW replaces the clock; unset, now() is the real time."""
    monkeypatch.setenv(ENV_NOW, "1234.5")
    assert now() == 1234.5
    monkeypatch.delenv(ENV_NOW)
    assert abs(now() - time.time()) < 5


# -- the command -----------------------------------------------------------------------


def test_text_output_not_ready_exits_7(tmp_path: Path) -> None:
    """Not ready: exit 7; the text gives the phase, counts, clients and the earliest time."""
    root = make_tree(tmp_path)
    record_hybrid_run(root, started=T0, opaque=[(T0 + 5, "client-a")], jwt=[(T0 + 6, "c")])
    result = run_status(root, at=T0 + 60)
    assert result.exit_code == 7, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith(
        f"phase: hybrid; store: persistent; access-token lifetime {LIFETIME} s; evidence: "
    ), lines
    assert "validations, last hour: jwt accepted 1, jwt rejected 0, opaque accepted 1, " \
        "opaque rejected 0" in lines  # fmt: skip
    assert f"hybrid code running since: {_stamp(T0)}" in lines
    assert f"last opaque token accepted: {_stamp(T0 + 5)}" in lines
    assert "clients still presenting opaque tokens:" in lines
    assert f"  client-a: 1, last seen {_stamp(T0 + 5)}" in lines
    assert lines[-1].startswith(
        f"verdict: not ready, earliest at {_stamp(T0 + LIFETIME + SKEW)} ("
    ), lines


def test_text_output_ready_exits_0(tmp_path: Path) -> None:
    """Ready: exit 0 and the verdict line says ready."""
    root = make_tree(tmp_path)
    record_hybrid_run(root, started=T0, opaque=[(T0 + 5, "client-a")])
    result = run_status(root, at=T0 + LIFETIME + SKEW)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-2:] == [
        "verdict: ready (no opaque token can still be alive or in use)",
        f"next: migrate finalize {root}",
    ]


def test_json_output_not_ready_exits_7(tmp_path: Path) -> None:
    """`--format json` gives the whole verdict as one object; exit 7 when not ready."""
    root = make_tree(tmp_path)
    record_hybrid_run(root, started=T0, opaque=[(T0 + 5, "client-a")])
    result = run_status(root, "--format", "json", at=T0 + 60)
    assert result.exit_code == 7, result.output
    answer = json.loads(result.stdout)
    assert answer["phase"] == "hybrid"
    assert answer["persistent"] is True
    assert answer["lifetime"] == LIFETIME
    assert answer["ready"] is False
    assert answer["earliest"] == T0 + LIFETIME + SKEW
    assert answer["evidence"]["started"] == T0
    assert answer["evidence"]["last_opaque_accepted"] == T0 + 5
    assert answer["evidence"]["opaque_clients"] == [
        {"client_id": "client-a", "count": 1, "last_seen": T0 + 5, "last_seen_iso": _stamp(T0 + 5)}
    ]
    assert isinstance(answer["reason"], str) and answer["reason"]


def test_json_output_ready_exits_0(tmp_path: Path) -> None:
    """`--format json` says ready: true and exits 0 once the clock passes the earliest time."""
    root = make_tree(tmp_path)
    record_hybrid_run(root, started=T0)
    result = run_status(root, "--format", "json", at=T0 + LIFETIME + SKEW + 1)
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["ready"] is True
    assert answer["earliest"] == T0 + LIFETIME + SKEW


def test_no_metrics_file_exits_1(tmp_path: Path) -> None:
    """No metrics file: exit 1 with one error line naming the file."""
    root = make_tree(tmp_path)
    result = run_status(root, at=T0)
    assert result.exit_code == 1, result.output
    assert "metrics.sqlite3" in result.stderr
    assert "has the hybrid server run yet" in result.stderr


def test_legacy_phase_exits_1(tmp_path: Path) -> None:
    """A tree in the legacy phase: exit 1 naming the phase and what to run."""
    root = make_tree(tmp_path, phase="legacy")
    record_hybrid_run(root, started=T0)
    result = run_status(root, at=T0)
    assert result.exit_code == 1, result.output
    assert "in the legacy phase: run `migrate apply` first" in result.stderr


def test_final_phase_is_done_and_exits_0(tmp_path: Path) -> None:
    """After finalize, status says "final" and exits 0: asking is not an error."""
    root = make_tree(tmp_path, phase="final")
    result = run_status(root, at=T0)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("phase: final; finalize is done"), result.output


def test_json_output_errors_exit_1(tmp_path: Path) -> None:
    """`--format json` without a metrics file also exits 1."""
    root = make_tree(tmp_path)
    assert run_status(root, "--format", "json", at=T0).exit_code == 1


def test_status_of_a_migrated_sample(tmp_path: Path) -> None:
    """On a real `apply` of the sample, status reads its wiring and store kind and exits 3."""
    root = copy_sample(tmp_path / "project")
    applied = CliRunner().invoke(cli, ["apply", str(root), "--yes"])
    assert applied.exit_code == 0, applied.output
    started = time.time()
    record_hybrid_run(root, started=started, opaque=[(started + 1, "client-a")])
    result = run_status(root, "--format", "json", at=started + 2)
    assert result.exit_code == 7, result.output
    answer = json.loads(result.stdout)
    assert answer["lifetime"] == LIFETIME
    assert answer["earliest"] == started + LIFETIME + SKEW


# -- the fleet: a target Prometheus lists but has not scraped yet -----------------------
# A real Prometheus cannot be held deterministically between a target's listing and its
# first scrape, so its two answers are given here as the API gives them (a target never
# scraped is in /api/v1/targets with health "unknown", and has no `up` series yet).


def _answers(up: int, hybrid: int) -> dict[str, list[dict[str, object]]]:
    return {
        "count by (job) (oauth_migrate_started_timestamp_seconds)": [
            {"metric": {"job": "mcp"}, "value": [0, "2"]}
        ],
        'count(up{job=~"mcp"})': [{"metric": {}, "value": [0, str(up)]}],
        'count(oauth_migrate_reader_info{mode="hybrid",job=~"mcp"} == 1)': [
            {"metric": {}, "value": [0, str(hybrid)]}
        ],
    }


def test_a_target_not_scraped_yet_keeps_the_fleet_not_ready() -> None:
    """Three targets listed, two scraped and both hybrid: the third (still on the legacy
    code, maybe) counts, so status cannot call the fleet ready before it reports."""
    answers = _answers(up=2, hybrid=2)
    listed = [
        {"labels": {"job": "mcp", "instance": f"h{n}:80"}, "health": health}
        for n, health in enumerate(["up", "up", "unknown"])
    ]
    assert fleet_counts(answers.__getitem__, lambda: listed) == (3, 2)


def test_targets_of_other_jobs_are_not_counted() -> None:
    answers = _answers(up=2, hybrid=2)
    listed = [{"labels": {"job": "mcp"}, "health": "up"}] * 2 + [
        {"labels": {"job": "node"}, "health": "unknown"}
    ]
    assert fleet_counts(answers.__getitem__, lambda: listed) == (2, 2)
