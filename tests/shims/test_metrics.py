"""Behaviour of the hybrid-period metrics: counting, the shared SQLite file, Prometheus."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shims import metrics as metrics_module
from shims.metrics import (
    COMPACTED_MINUTE,
    OVERFLOW_LABEL,
    ClientUsage,
    Metrics,
    MetricsUnavailable,
    read_metrics,
    render_prometheus,
)

# A minute boundary, so tests can reason about minute buckets.
T0 = 1_800_000_000.0
HOUR = 3600.0
DAY = 86400.0


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "metrics.sqlite"


@pytest.fixture
def metrics(store: Path, clock: Clock) -> Iterator[Metrics]:
    m = Metrics(store, instance="a", clock=clock)
    yield m
    m.close()


def test_counts_validations_by_kind_outcome_and_reason(clock: Clock) -> None:
    """validation() counts each (kind, outcome, reason) separately."""
    m = Metrics(clock=clock)
    m.validation("opaque", "accepted", "ok", "c1")
    m.validation("opaque", "accepted", "ok", "c2")
    m.validation("jwt", "rejected", "expired")

    assert m.snapshot().validations == {
        ("opaque", "accepted", "ok"): 2,
        ("jwt", "rejected", "expired"): 1,
    }


def test_counts_validations_by_kind_and_client(clock: Clock) -> None:
    """validation() counts each (kind, outcome, client_id), with None for an unknown client."""
    m = Metrics(clock=clock)
    m.validation("opaque", "accepted", "ok", "c1")
    m.validation("opaque", "rejected", "expired", "c1")
    m.validation("jwt", "accepted", "ok", "c1")
    m.validation("opaque", "rejected", "unknown")

    assert m.snapshot().by_client == {
        ("opaque", "accepted", "c1"): 1,
        ("opaque", "rejected", "c1"): 1,
        ("jwt", "accepted", "c1"): 1,
        ("opaque", "rejected", None): 1,
    }


def test_snapshot_remembers_last_opaque_acceptance_and_mint(clock: Clock) -> None:
    """snapshot() reports the time of the last opaque acceptance and the last opaque mint."""
    m = Metrics(clock=clock)
    m.opaque_minted("c1")
    clock.now += 10
    m.validation("opaque", "accepted", "ok", "c1")
    clock.now += 10
    m.validation("jwt", "accepted", "ok", "c1")
    m.jwt_minted("c1")

    snapshot = m.snapshot()
    assert (snapshot.last_opaque_minted, snapshot.last_opaque_accepted) == (T0, T0 + 10)
    assert (snapshot.opaque_minted, snapshot.jwt_minted) == (1, 1)


def test_snapshot_totals_are_cumulative_across_flushes(metrics: Metrics) -> None:
    """Flushing sends deltas to the file but does not reset the in-process totals."""
    metrics.validation("jwt", "accepted", "ok")
    metrics.flush()
    metrics.validation("jwt", "accepted", "ok")
    metrics.flush()

    assert metrics.snapshot().validations == {("jwt", "accepted", "ok"): 2}


def test_flush_writes_what_read_metrics_reads_back(metrics: Metrics, store: Path) -> None:
    """Counts flushed to the file come back from read_metrics() by kind, outcome and reason."""
    metrics.validation("opaque", "accepted", "ok", "c1")
    metrics.validation("jwt", "accepted", "ok", "c1")
    metrics.validation("jwt", "rejected", "bad_signature")

    assert metrics.flush() is True
    report = read_metrics(store, now=T0)

    assert report.total == {
        ("jwt", "accepted"): 1,
        ("jwt", "rejected"): 1,
        ("opaque", "accepted"): 1,
        ("opaque", "rejected"): 0,
    }
    assert report.by_reason == {
        ("opaque", "accepted", "ok"): 1,
        ("jwt", "accepted", "ok"): 1,
        ("jwt", "rejected", "bad_signature"): 1,
    }


def test_flushing_twice_does_not_count_twice(metrics: Metrics, store: Path) -> None:
    """A second flush writes only what was counted since the first."""
    metrics.validation("opaque", "accepted", "ok", "c1")
    metrics.flush()
    metrics.flush()

    assert read_metrics(store, now=T0).total["opaque", "accepted"] == 1


def test_two_instances_writing_one_file_are_summed(store: Path, clock: Clock) -> None:
    """Two replicas flushing into one file are summed by read_metrics()."""
    first = Metrics(store, instance="replica-1", clock=clock)
    second = Metrics(store, instance="replica-2", clock=clock)
    first.validation("opaque", "accepted", "ok", "c1")
    second.validation("opaque", "accepted", "ok", "c1")
    second.validation("opaque", "accepted", "ok", "c2")
    first.close()
    second.close()

    report = read_metrics(store, now=T0)

    assert report.total["opaque", "accepted"] == 3
    assert [(u.client_id, u.count) for u in report.opaque_clients] == [("c1", 2), ("c2", 1)]
    assert [i.instance for i in report.instances] == ["replica-1", "replica-2"]


def test_hour_window_excludes_data_the_day_window_keeps(
    metrics: Metrics, store: Path, clock: Clock
) -> None:
    """Counts from two hours ago are in the last-day window but not the last-hour window."""
    metrics.validation("opaque", "accepted", "ok")
    clock.now = T0 + 2 * HOUR
    metrics.validation("opaque", "accepted", "ok")
    metrics.flush()

    report = read_metrics(store, now=T0 + 2 * HOUR)

    assert report.last_hour["opaque", "accepted"] == 1
    assert report.last_day["opaque", "accepted"] == 2
    assert report.total["opaque", "accepted"] == 2


def test_day_window_excludes_data_older_than_a_day(
    metrics: Metrics, store: Path, clock: Clock
) -> None:
    """Counts from more than a day ago are only in the total."""
    metrics.validation("jwt", "accepted", "ok")
    metrics.flush()

    report = read_metrics(store, now=T0 + DAY + 2 * 60)

    assert report.last_day["jwt", "accepted"] == 0
    assert report.total["jwt", "accepted"] == 1


def test_windows_include_the_minute_the_window_starts_in(
    metrics: Metrics, store: Path, clock: Clock
) -> None:
    """A minute bucket partly inside the hour window counts in it, erring towards usage."""
    clock.now = T0 + 30
    metrics.validation("opaque", "accepted", "ok")
    metrics.flush()

    assert read_metrics(store, now=T0 + HOUR + 59).last_hour["opaque", "accepted"] == 1


def test_last_opaque_minted_and_accepted_are_maxima_over_instances(
    store: Path, clock: Clock
) -> None:
    """The last opaque mint and acceptance are the latest over all instances."""
    early = Metrics(store, instance="early", clock=clock)
    late = Metrics(store, instance="late", clock=clock)
    late.opaque_minted("c1")
    late.validation("opaque", "accepted", "ok", "c1")
    late.close()
    clock.now = T0 - HOUR
    early.opaque_minted("c1")
    early.validation("opaque", "accepted", "ok", "c1")
    early.close()

    report = read_metrics(store, now=T0)

    assert (report.last_opaque_minted, report.last_opaque_accepted) == (T0, T0)


def test_never_seen_opaque_times_are_none(metrics: Metrics, store: Path) -> None:
    """Without opaque mints or acceptances the last times read back as None."""
    metrics.validation("jwt", "accepted", "ok")
    metrics.flush()

    report = read_metrics(store, now=T0)

    assert (report.last_opaque_minted, report.last_opaque_accepted) == (None, None)


def test_opaque_clients_carry_count_and_last_seen(
    metrics: Metrics, store: Path, clock: Clock
) -> None:
    """Per-client opaque usage gives each client's count and last acceptance, latest first."""
    metrics.validation("opaque", "accepted", "ok", "old")
    clock.now = T0 + 30
    metrics.validation("opaque", "accepted", "ok")
    clock.now = T0 + 90
    metrics.validation("opaque", "accepted", "ok", "new")
    metrics.validation("opaque", "accepted", "ok", "new")
    metrics.flush()

    assert read_metrics(store, now=clock.now).opaque_clients == (
        ClientUsage("new", 2, T0 + 90),
        ClientUsage(None, 1, T0 + 30),
        ClientUsage("old", 1, T0),
    )


def test_opaque_accepted_since_counts_recent_acceptances(
    metrics: Metrics, store: Path, clock: Clock
) -> None:
    """opaque_accepted_since() counts the minutes from the given time on."""
    metrics.validation("opaque", "accepted", "ok")
    clock.now = T0 + 2 * HOUR
    metrics.validation("opaque", "accepted", "ok")
    metrics.validation("opaque", "accepted", "ok")
    metrics.flush()

    report = read_metrics(store, now=clock.now)

    assert report.opaque_accepted_since(T0 + HOUR) == 2
    assert report.opaque_accepted_since(T0) == 3


def test_opaque_accepted_since_is_zero_after_the_last_acceptance(
    metrics: Metrics, store: Path, clock: Clock
) -> None:
    """opaque_accepted_since() is 0 for any time after the last acceptance, even in its minute."""
    metrics.validation("opaque", "accepted", "ok")
    metrics.flush()

    assert read_metrics(store, now=T0 + 60).opaque_accepted_since(T0 + 1) == 0


def test_mints_are_read_back_by_kind_and_client(
    metrics: Metrics, store: Path, clock: Clock
) -> None:
    """Mints read back as totals per kind and opaque mints per client."""
    metrics.opaque_minted("c1")
    metrics.opaque_minted("c1")
    clock.now += 5
    metrics.opaque_minted("c2")
    metrics.jwt_minted("c1")
    metrics.flush()

    report = read_metrics(store, now=clock.now)

    assert (report.jwt_minted, report.opaque_minted) == (1, 3)
    assert report.opaque_mint_clients == (ClientUsage("c2", 1, T0 + 5), ClientUsage("c1", 2, T0))
    assert report.last_opaque_minted == T0 + 5


def test_first_seen_is_when_the_earliest_instance_started(store: Path, clock: Clock) -> None:
    """first_seen is the earliest instance start, even before its first count."""
    first = Metrics(store, instance="first", clock=clock)
    clock.now = T0 + HOUR
    second = Metrics(store, instance="second", clock=clock)
    second.validation("jwt", "accepted", "ok")
    first.close()
    second.close()

    report = read_metrics(store, now=clock.now)

    assert report.first_seen == T0
    assert [(i.instance, i.started, i.last_flush) for i in report.instances] == [
        ("first", T0, T0 + HOUR),
        ("second", T0 + HOUR, T0 + HOUR),
    ]


def test_concurrent_validations_lose_no_counts(metrics: Metrics, store: Path) -> None:
    """validation() from several threads, with flushes in between, loses no count."""
    threads, per_thread = 8, 5000
    start = threading.Barrier(threads + 1)

    def count(client: str) -> None:
        start.wait()
        for _ in range(per_thread):
            metrics.validation("opaque", "accepted", "ok", client)

    workers = [threading.Thread(target=count, args=(f"c{i % 3}",)) for i in range(threads)]
    # Switch threads as often as CPython allows, to interleave counting with flushing.
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for worker in workers:
            worker.start()
        start.wait()
        for _ in range(20):
            metrics.flush()
        for worker in workers:
            worker.join()
    finally:
        sys.setswitchinterval(switch_interval)
    metrics.flush()

    expected = threads * per_thread
    assert metrics.snapshot().validations["opaque", "accepted", "ok"] == expected
    assert read_metrics(store, now=T0).total["opaque", "accepted"] == expected


def test_failing_flush_does_not_raise(tmp_path: Path, clock: Clock) -> None:
    """flush() into an impossible path returns False instead of raising."""
    (tmp_path / "blocker").write_text("a file where a directory should be")
    m = Metrics(tmp_path / "blocker" / "metrics.sqlite", clock=clock)
    m.validation("opaque", "accepted", "ok")

    assert m.flush() is False


def test_failed_flush_keeps_counts_for_the_next_flush(tmp_path: Path, clock: Clock) -> None:
    """Counts a failed flush could not write are written by the next successful one."""
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a directory should be")
    m = Metrics(blocker / "metrics.sqlite", clock=clock)
    m.validation("opaque", "accepted", "ok", "c1")
    m.flush()
    m.validation("opaque", "accepted", "ok", "c1")
    blocker.unlink()

    assert m.flush() is True
    assert read_metrics(blocker / "metrics.sqlite", now=T0).total["opaque", "accepted"] == 2


def test_flush_into_a_directory_path_fails_softly(tmp_path: Path, clock: Clock) -> None:
    """A metrics path that is a directory makes flush() return False, not raise."""
    m = Metrics(tmp_path, clock=clock)
    m.validation("jwt", "accepted", "ok")

    assert m.flush() is False
    assert m.snapshot().validations == {("jwt", "accepted", "ok"): 1}


def test_failing_flush_logs_a_warning(
    tmp_path: Path, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """A failed flush logs a warning naming the path on the oauth_migration.metrics logger."""
    m = Metrics(tmp_path, clock=clock)

    with caplog.at_level(logging.WARNING, logger="oauth_migration.metrics"):
        m.flush()

    [record] = caplog.records
    assert (record.name, record.levelno) == ("oauth_migration.metrics", logging.WARNING)
    assert str(tmp_path) in record.getMessage()


def test_repeated_flush_failures_do_not_flood_the_log(
    tmp_path: Path, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """Consecutive failures within ten minutes log one warning, not one per flush."""
    m = Metrics(tmp_path, clock=clock)

    with caplog.at_level(logging.WARNING, logger="oauth_migration.metrics"):
        for _ in range(5):
            m.flush()
            clock.now += 5

    assert len(caplog.records) == 1


def test_long_outage_coarsens_kept_counts_instead_of_dropping_them(
    tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the kept-delta limit, counts are merged into hour buckets, none lost."""
    monkeypatch.setattr(metrics_module, "_MAX_UNFLUSHED", 2)
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a directory should be")
    m = Metrics(blocker / "metrics.sqlite", clock=clock)
    for minute in range(4):
        clock.now = T0 + minute * 60
        m.validation("opaque", "accepted", "ok")
        m.flush()
    blocker.unlink()
    m.flush()

    report = read_metrics(blocker / "metrics.sqlite", now=clock.now)

    assert report.total["opaque", "accepted"] == 4
    assert report.last_hour["opaque", "accepted"] == 4


def test_flush_without_a_path_keeps_counting_in_memory(clock: Clock) -> None:
    """Without a file, flush() succeeds and the counts stay in the snapshot."""
    m = Metrics(clock=clock)
    m.validation("jwt", "accepted", "ok")

    assert m.flush() is True
    assert m.snapshot().validations == {("jwt", "accepted", "ok"): 1}


def test_flush_creates_parent_directories(tmp_path: Path, clock: Clock) -> None:
    """flush() creates the missing directories above the metrics file."""
    path = tmp_path / ".oauth-migration" / "deep" / "metrics.sqlite"
    m = Metrics(path, clock=clock)

    assert m.flush() is True
    assert path.is_file()


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_flush_creates_the_file_readable_by_its_owner_only(metrics: Metrics, store: Path) -> None:
    """The metrics file is created with mode 0600: client ids are not for everyone."""
    metrics.flush()

    assert stat.S_IMODE(store.stat().st_mode) == 0o600


def test_store_is_in_wal_mode_with_a_schema_version(metrics: Metrics, store: Path) -> None:
    """The file uses WAL, so readers and several writers coexist, and records its schema."""
    metrics.flush()

    with closing(sqlite3.connect(store)) as connection:
        journal = connection.execute("PRAGMA journal_mode").fetchone()[0]
        version = connection.execute("PRAGMA user_version").fetchone()[0]
    assert (journal, version) == ("wal", metrics_module.SCHEMA_VERSION)


def test_read_metrics_works_while_a_writer_holds_the_write_lock(
    metrics: Metrics, store: Path
) -> None:
    """read_metrics() reads committed counts while another connection is mid-write."""
    metrics.validation("jwt", "accepted", "ok")
    metrics.flush()

    with closing(sqlite3.connect(store, isolation_level=None)) as writer:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("DELETE FROM validations")
        report = read_metrics(store, now=T0)
        writer.execute("ROLLBACK")

    assert report.total["jwt", "accepted"] == 1


def test_read_metrics_on_a_missing_file_names_the_path(tmp_path: Path) -> None:
    """read_metrics() on a missing file raises MetricsUnavailable naming the path."""
    path = tmp_path / "nowhere.sqlite"

    with pytest.raises(MetricsUnavailable, match="nowhere.sqlite") as raised:
        read_metrics(path)

    assert raised.value.path == path


def test_read_metrics_rejects_a_file_that_is_not_sqlite(tmp_path: Path) -> None:
    """read_metrics() on a file that is not SQLite raises MetricsUnavailable."""
    path = tmp_path / "notes.txt"
    path.write_text("this is not a database, just a long enough line of text\n" * 20)

    with pytest.raises(MetricsUnavailable, match="notes.txt"):
        read_metrics(path)


def test_read_metrics_rejects_another_sqlite_database(tmp_path: Path) -> None:
    """read_metrics() on someone else's SQLite database raises MetricsUnavailable."""
    path = tmp_path / "app.sqlite"
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("CREATE TABLE users (name TEXT)")
        connection.commit()

    with pytest.raises(MetricsUnavailable, match="not an oauth-migrate metrics store"):
        read_metrics(path)


def test_read_metrics_rejects_an_empty_file(tmp_path: Path) -> None:
    """read_metrics() on an empty file says no metrics were written yet."""
    path = tmp_path / "metrics.sqlite"
    path.touch()

    with pytest.raises(MetricsUnavailable, match="holds no metrics yet"):
        read_metrics(path)


def test_flush_refuses_to_write_into_another_database(tmp_path: Path, clock: Clock) -> None:
    """flush() leaves someone else's SQLite database untouched and reports failure."""
    path = tmp_path / "app.sqlite"
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("CREATE TABLE users (name TEXT)")
        connection.commit()
    m = Metrics(path, clock=clock)
    m.validation("jwt", "accepted", "ok")

    assert m.flush() is False
    with closing(sqlite3.connect(path)) as connection:
        tables = connection.execute("SELECT name FROM sqlite_master").fetchall()
        journal = connection.execute("PRAGMA journal_mode").fetchone()[0]
    assert (tables, journal) == ([("users",)], "delete")


def test_close_flushes_what_was_counted(store: Path, clock: Clock) -> None:
    """close() stops the flusher thread and writes the remaining counts."""
    m = Metrics(store, clock=clock, flush_interval=3600)
    m.start()
    m.validation("opaque", "accepted", "ok")
    m.close()

    assert read_metrics(store, now=T0).total["opaque", "accepted"] == 1


def test_start_is_idempotent(metrics: Metrics) -> None:
    """Calling start() twice runs one flusher thread."""
    metrics.start()
    metrics.start()

    flushers = [t for t in threading.enumerate() if t.name == "oauth-migration-metrics"]
    assert len(flushers) == 1


def test_old_rows_are_compacted_but_still_counted(
    metrics: Metrics, store: Path, clock: Clock
) -> None:
    """Rows older than two days merge into one row per key that counts only in totals."""
    metrics.validation("opaque", "accepted", "ok", "c1")
    metrics.flush()
    clock.now = T0 + 3 * DAY
    metrics.validation("opaque", "accepted", "ok", "c1")
    metrics.flush()
    clock.now += HOUR + 1
    metrics.flush()

    with closing(sqlite3.connect(store)) as connection:
        minutes = connection.execute("SELECT DISTINCT minute FROM validations").fetchall()
    report = read_metrics(store, now=clock.now)
    assert minutes == [(COMPACTED_MINUTE,), (int((T0 + 3 * DAY) // 60),)]
    assert report.total["opaque", "accepted"] == 2
    assert report.last_day["opaque", "accepted"] == 1
    assert report.opaque_clients == (ClientUsage("c1", 2, T0 + 3 * DAY),)


def test_client_ids_past_the_cap_count_as_other(clock: Clock) -> None:
    """Client ids beyond max_clients are counted under "_other"."""
    m = Metrics(clock=clock, max_clients=2)
    for client in ("c1", "c2", "c3", "c4", "c1"):
        m.validation("opaque", "accepted", "ok", client)

    assert m.snapshot().by_client == {
        ("opaque", "accepted", "c1"): 2,
        ("opaque", "accepted", "c2"): 1,
        ("opaque", "accepted", OVERFLOW_LABEL): 2,
    }


def test_reasons_past_the_cap_count_as_other(clock: Clock) -> None:
    """Reasons beyond max_reasons are counted under "_other"."""
    m = Metrics(clock=clock, max_reasons=1)
    m.validation("jwt", "rejected", "expired")
    m.validation("jwt", "rejected", "boom: token 1")
    m.validation("jwt", "rejected", "boom: token 2")

    assert m.snapshot().validations == {
        ("jwt", "rejected", "expired"): 1,
        ("jwt", "rejected", OVERFLOW_LABEL): 2,
    }


def test_long_client_ids_are_cut(clock: Clock) -> None:
    """Client ids are cut to 200 characters before they become labels."""
    m = Metrics(clock=clock)
    m.validation("opaque", "accepted", "ok", "x" * 10_000)

    assert m.snapshot().by_client == {("opaque", "accepted", "x" * 200): 1}


def test_unknown_kind_is_refused(clock: Clock) -> None:
    """validation() with a kind other than jwt or opaque raises ValueError."""
    m = Metrics(clock=clock)

    with pytest.raises(ValueError, match="saml"):
        m.validation("saml", "accepted", "ok")  # type: ignore[arg-type]


def test_prometheus_text_has_every_metric_and_value(clock: Clock) -> None:
    """render_prometheus() exposes the counters and gauges with their values."""
    pytest.importorskip("prometheus_client", reason="render_prometheus needs prometheus_client")
    m = Metrics(clock=clock)
    m.validation("opaque", "accepted", "ok", "c1")
    m.validation("jwt", "rejected", "expired")
    m.opaque_minted("c1")
    m.jwt_minted("c1")

    text = render_prometheus(m)

    assert text is not None
    lines = text.decode().splitlines()
    for line in (
        'oauth_migrate_token_validations_total{kind="opaque",outcome="accepted",reason="ok"} 1.0',
        'oauth_migrate_token_validations_total{kind="jwt",outcome="rejected",reason="expired"} 1.0',
        "oauth_migrate_token_validations_by_client_total"
        '{client_id="c1",kind="opaque",outcome="accepted"} 1.0',
        "oauth_migrate_token_validations_by_client_total"
        '{client_id="",kind="jwt",outcome="rejected"} 1.0',
        'oauth_migrate_tokens_minted_total{kind="jwt"} 1.0',
        'oauth_migrate_tokens_minted_total{kind="opaque"} 1.0',
        "oauth_migrate_last_opaque_accepted_timestamp_seconds 1.8e+09",
        "oauth_migrate_last_opaque_minted_timestamp_seconds 1.8e+09",
    ):
        assert line in lines


def test_prometheus_gauges_are_zero_before_any_opaque_token(clock: Clock) -> None:
    """The last-opaque gauges read 0 when no opaque token was minted or accepted."""
    pytest.importorskip("prometheus_client", reason="render_prometheus needs prometheus_client")
    text = render_prometheus(Metrics(clock=clock))

    assert text is not None
    lines = text.decode().splitlines()
    assert "oauth_migrate_last_opaque_accepted_timestamp_seconds 0.0" in lines
    assert "oauth_migrate_last_opaque_minted_timestamp_seconds 0.0" in lines


def test_collector_reads_counters_at_scrape_time(clock: Clock) -> None:
    """A registered collector reports counts made after it was registered."""
    prometheus_client = pytest.importorskip(
        "prometheus_client", reason="the collector needs prometheus_client"
    )
    m = Metrics(clock=clock)
    registry = prometheus_client.CollectorRegistry()
    registry.register(m.prometheus_collector())
    m.validation("opaque", "accepted", "ok", "c1")

    labels = {"kind": "opaque", "outcome": "accepted", "reason": "ok"}
    assert registry.get_sample_value("oauth_migrate_token_validations_total", labels) == 1.0


def test_without_prometheus_client_metrics_still_count(
    monkeypatch: pytest.MonkeyPatch, clock: Clock
) -> None:
    """Without prometheus_client there is no collector or text, and counting still works."""
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    m = Metrics(clock=clock)
    m.validation("jwt", "accepted", "ok")

    assert (m.prometheus_collector(), render_prometheus(m)) == (None, None)
    assert m.snapshot().validations == {("jwt", "accepted", "ok"): 1}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_counts_its_own_requests_only(store: Path, clock: Clock) -> None:
    """A worker forked from a started Metrics flushes its own counts, not the parent's."""
    m = Metrics(store, clock=clock, flush_interval=3600)
    m.validation("jwt", "accepted", "ok")
    m.start()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit status
        try:
            running = m._thread is not None
            m.validation("jwt", "accepted", "ok")
            m.close()
        finally:
            os._exit(0 if running else 1)
    _, status = os.waitpid(pid, 0)
    m.close()

    report = read_metrics(store, now=T0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert report.total["jwt", "accepted"] == 2
    assert len(report.instances) == 2


_events = st.lists(
    st.one_of(
        st.tuples(
            st.just("validate"),
            st.sampled_from(["jwt", "opaque"]),
            st.sampled_from(["accepted", "rejected"]),
            st.sampled_from([None, "c1", "c2"]),
        ),
        st.tuples(st.just("flush")),
        st.tuples(st.just("wait"), st.integers(min_value=1, max_value=2 * 3600)),
    ),
    max_size=40,
)


@settings(max_examples=40, deadline=None)
@given(events=_events)
def test_file_totals_equal_process_totals_whatever_the_flush_timing(
    events: list[tuple[object, ...]],
) -> None:
    """However validations, flushes and time interleave, the file ends with the process totals."""
    clock = Clock()
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "metrics.sqlite"
        m = Metrics(path, clock=clock)
        for event in events:
            if event[0] == "validate":
                _, kind, outcome, client = event
                m.validation(kind, outcome, "ok", client)  # type: ignore[arg-type]
            elif event[0] == "flush":
                m.flush()
            else:
                clock.now += event[1]  # type: ignore[operator]
        m.close()

        report = read_metrics(path, now=clock.now)

    expected = {(k, o): n for (k, o, _), n in m.snapshot().validations.items()}
    assert {pair: n for pair, n in report.total.items() if n} == expected
