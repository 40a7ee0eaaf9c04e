"""The fleet rules of `migrate status`: every scraped replica on the hybrid reader, and the
wait counted from the latest replica start (the real Prometheus run: test_multi_host.py)."""

from __future__ import annotations

from migrate.status import SKEW, Evidence, render_status, verdict

LIFETIME = 3600
T0 = 1_700_000_000.0


def _evidence(scraped: int | None, hybrid: int | None, fleet_since: float | None) -> Evidence:
    return Evidence(
        started=T0,
        last_opaque_minted=None,
        last_opaque_accepted=None,
        replicas_scraped=scraped,
        replicas_hybrid=hybrid,
        fleet_since=fleet_since,
    )


def test_a_replica_not_on_the_hybrid_reader_keeps_the_fleet_not_ready() -> None:
    ready, earliest, reason = verdict(_evidence(3, 2, T0), True, LIFETIME, T0 + 10 * LIFETIME)
    assert (ready, earliest) == (False, None)
    assert "2 of 3 replicas" in reason


def test_the_wait_runs_from_the_latest_replica_start() -> None:
    late = T0 + 1800
    evidence = _evidence(3, 3, late)
    ready, earliest, _ = verdict(evidence, True, LIFETIME, late + LIFETIME)
    assert (ready, earliest) == (False, late + LIFETIME + SKEW)
    ready, _, reason = verdict(evidence, True, LIFETIME, late + LIFETIME + SKEW)
    assert ready, reason


def test_one_host_evidence_has_no_replica_rule() -> None:
    ready, earliest, _ = verdict(_evidence(None, None, None), True, LIFETIME, T0 + LIFETIME + SKEW)
    assert ready and earliest == T0 + LIFETIME + SKEW


def test_the_report_names_the_replica_counts() -> None:
    from migrate.status import Status

    evidence = _evidence(3, 2, T0)
    ready, earliest, reason = verdict(evidence, True, LIFETIME, T0)
    text = render_status(Status("hybrid", True, LIFETIME, evidence, ready, earliest, reason))
    assert "replicas on the hybrid reader: 2 of 3 scraped" in text
