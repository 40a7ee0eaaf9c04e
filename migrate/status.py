"""Is it safe to finalize? The hybrid period's evidence, and a verdict with its reason.

Rules (an access token lives for its ``expires_in``, RFC 6749 section 5.1): no opaque
access token minted for at least the longest opaque lifetime plus clock skew, counted
from the LAST opaque mint
(the moment the hybrid code first ran, or a later opaque mint the metrics recorded); and
no opaque token accepted over the recent window. A store in memory lost every opaque
token at the restart that deployed the hybrid code, so only the skew applies there.

The evidence comes from the runtime's metrics file (one machine) or, with
``--prometheus``, from the Prometheus HTTP API, summed over every replica it scrapes.
``OAUTH_MIGRATE_NOW`` (Unix time) replaces the clock, for tests and demos only.

A fleet is ready only when every replica Prometheus scrapes for the server reports the
hybrid reader (``oauth_migrate_reader_info{mode="hybrid"}``): a replica still on the
legacy code mints opaque tokens nothing counts. The wait then runs from the latest
replica start (``fleet_since``), a safe bound for the moment the last legacy replica went.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from migrate import emit
from migrate.errors import StatusError
from migrate.state import read_state, recorded_lifetime
from shims.metrics import Kind, MetricsUnavailable, Outcome, read_metrics

SKEW = 60.0
WINDOW = 3600.0
ENV_NOW = "OAUTH_MIGRATE_NOW"


@dataclass
class Evidence:
    """What the hybrid servers reported, from the metrics file or Prometheus."""

    started: float | None
    last_opaque_minted: float | None
    last_opaque_accepted: float | None
    last_hour: dict[str, int] = field(default_factory=dict)
    last_day: dict[str, int] = field(default_factory=dict)
    opaque_clients: list[dict[str, Any]] = field(default_factory=list)
    source: str = ""
    # Prometheus only: targets scraped for this server, those running the hybrid reader,
    # and the latest hybrid start among them (None from the metrics file: one host).
    replicas_scraped: int | None = None
    replicas_hybrid: int | None = None
    fleet_since: float | None = None


@dataclass
class Status:
    phase: str
    persistent: bool
    lifetime: int
    evidence: Evidence
    ready: bool
    earliest: float | None
    reason: str

    def document(self) -> dict[str, Any]:
        """The fields of `status --format json`: epoch seconds with an ISO twin beside each."""
        evidence = asdict(self.evidence)
        for name in ("started", "last_opaque_minted", "last_opaque_accepted", "fleet_since"):
            evidence[f"{name}_iso"] = _iso(evidence[name])
        for client in evidence["opaque_clients"]:
            if "last_seen" in client:
                client["last_seen_iso"] = _iso(client["last_seen"])
        body = {k: v for k, v in asdict(self).items() if k != "evidence"}
        return {**body, "earliest_iso": _iso(self.earliest), "evidence": evidence}

    def to_json(self) -> str:
        return json.dumps(self.document(), indent=2, sort_keys=True) + "\n"


def now() -> float:
    override = os.environ.get(ENV_NOW)
    return float(override) if override else time.time()


def _iso(value: float | None) -> str | None:
    return None if value is None else _stamp(value)


def _stamp(value: float | None) -> str:
    if value is None:
        return "never"
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(value))


def file_evidence(root: Path, at: float) -> Evidence:
    path = root / emit.STATE_DIR / "metrics.sqlite3"
    try:
        report = read_metrics(path, now=at)
    except MetricsUnavailable as problem:
        # The runtime's own hint ("flushed yet?") would double the question below.
        what = str(problem).replace(" (has the hybrid server flushed yet?)", "")
        raise StatusError(f"{what}: has the hybrid server run yet?") from None
    except sqlite3.DatabaseError as problem:  # truncated or damaged past the header
        raise StatusError(
            f"{path} is damaged ({problem}): restore it from a backup, or delete it and let "
            "the hybrid servers record a new one (the wait then starts again)"
        ) from None

    def flat(counts: Mapping[tuple[Kind, Outcome], int]) -> dict[str, int]:
        return {f"{kind}_{outcome}": n for (kind, outcome), n in sorted(counts.items())}

    clients = [
        {"client_id": c.client_id, "count": c.count, "last_seen": c.last_seen}
        for c in report.opaque_clients
    ]
    return Evidence(
        report.first_seen,
        report.last_opaque_minted,
        report.last_opaque_accepted,
        flat(report.last_hour),
        flat(report.last_day),
        clients,
        str(path),
    )


VALIDATIONS = "oauth_migrate_token_validations_total"
OPAQUE_BY_CLIENT = (
    'oauth_migrate_token_validations_by_client_total{kind="opaque",outcome="accepted"}'
)


def _growth(series: str, span: str) -> str:
    """What a counter grew by over ``span``, in PromQL.

    increase() drops a series' first sample, and a counter appears only at its first
    count, so a replica that started inside the window would lose its traffic. The
    difference with the value a window ago, or the whole value when there was none, keeps
    it (a replica restarted inside the window is counted from its restart)."""
    return f"((({series}) - ({series} offset {span})) or ({series}))"


def _api(url: str, path: str, params: dict[str, str]) -> Any:
    """The ``data`` of one Prometheus HTTP API answer; StatusError when there is none."""
    address = url.rstrip("/") + path + "?" + urllib.parse.urlencode(params)
    try:
        with urllib.request.urlopen(address, timeout=10) as response:
            body = json.load(response)
    except (OSError, ValueError) as problem:
        raise StatusError(f"Prometheus at {url}: {problem}") from None
    if body.get("status") != "success":
        raise StatusError(f"Prometheus at {url}: {body.get('error', 'query failed')}")
    return body["data"]


def prometheus_evidence(url: str) -> Evidence:
    def query(expression: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = _api(url, "/api/v1/query", {"query": expression})["result"]
        return result

    def targets() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = _api(url, "/api/v1/targets", {"state": "active"}).get(
            "activeTargets", []
        )
        return found

    def scalar(expression: str) -> float | None:
        rows = query(expression)
        value = float(rows[0]["value"][1]) if rows else 0.0
        return value or None

    def window(span: str) -> dict[str, int]:
        rows = query("sum by (kind, outcome) " + _growth(VALIDATIONS, span))
        return {
            f"{r['metric']['kind']}_{r['metric']['outcome']}": round(float(r["value"][1]))
            for r in rows
        }

    clients = query("sum by (client_id) " + _growth(OPAQUE_BY_CLIENT, "1d"))
    scraped, hybrid = fleet_counts(query, targets)
    return Evidence(
        scalar("min(oauth_migrate_started_timestamp_seconds)"),
        scalar("max(oauth_migrate_last_opaque_minted_timestamp_seconds)"),
        scalar("max(oauth_migrate_last_opaque_accepted_timestamp_seconds)"),
        window("1h"),
        window("1d"),
        [
            {"client_id": r["metric"].get("client_id", ""), "count": round(float(r["value"][1]))}
            for r in clients
            if float(r["value"][1]) > 0
        ],
        url,
        scraped,
        hybrid,
        scalar(f'max({STARTED} and on (instance, job) {READER}{{mode="hybrid"}})'),
    )


STARTED = "oauth_migrate_started_timestamp_seconds"
READER = "oauth_migrate_reader_info"


def fleet_counts(
    query: Callable[[str], list[dict[str, Any]]],
    targets: Callable[[], list[dict[str, Any]]] = list,
) -> tuple[int, int]:
    """(targets Prometheus scrapes in the jobs where a replica reports, replicas among them
    reporting the hybrid reader). A target down or on the legacy code counts in the first
    only: its ``up`` is there, its reader is not. A target not scraped yet has no ``up``
    at all (a replica just added, or its first scrape still to come): the active targets
    Prometheus lists count it, so the fleet is not ready before every one has reported."""
    jobs = sorted({r["metric"].get("job", "") for r in query(f"count by (job) ({STARTED})")})
    if not jobs:
        return 0, 0
    chosen = "|".join(re.escape(job) for job in jobs)
    scraped = query(f'count(up{{job=~"{chosen}"}})')
    hybrid = query(f'count({READER}{{mode="hybrid",job=~"{chosen}"}} == 1)')
    listed = sum(1 for t in targets() if t.get("labels", {}).get("job") in jobs)
    return (
        max(round(float(scraped[0]["value"][1])) if scraped else 0, listed),
        round(float(hybrid[0]["value"][1])) if hybrid else 0,
    )


def status(root: Path, *, prometheus: str | None = None, at: float | None = None) -> Status:
    root = root.resolve()
    at = now() if at is None else at
    state = read_state(root)
    if state.phase != "hybrid":
        raise StatusError(f"{root} is in the {state.phase} phase, not the hybrid one")
    persistent = state.history[-1].store_persistent if state.history else True
    evidence = prometheus_evidence(prometheus) if prometheus else file_evidence(root, at)
    lifetime = recorded_lifetime(root, state)
    ready, earliest, reason = verdict(evidence, persistent, lifetime, at)
    return Status(state.phase, persistent, lifetime, evidence, ready, earliest, reason)


def verdict(
    evidence: Evidence, persistent: bool, lifetime: int, at: float
) -> tuple[bool, float | None, str]:
    if evidence.started is None:
        return False, None, "no hybrid server has reported yet: start it, then ask again"
    scraped, hybrid = evidence.replicas_scraped, evidence.replicas_hybrid
    if scraped is not None and hybrid is not None and hybrid < scraped:
        return (
            False,
            None,
            f"{hybrid} of {scraped} replicas Prometheus scrapes report the hybrid reader: "
            "deploy the hybrid code to every replica (one still on the legacy code mints "
            "opaque tokens nothing counts)",
        )
    last_mint = max(
        evidence.started, evidence.fleet_since or 0.0, evidence.last_opaque_minted or 0.0
    )
    wait = lifetime + SKEW if persistent else SKEW
    earliest = last_mint + wait
    reason = (
        f"opaque tokens minted up to {_stamp(last_mint)} live until {_stamp(earliest)}"
        if persistent
        else f"the store is in memory: opaque tokens died at {_stamp(last_mint)}"
    )
    if evidence.last_opaque_accepted is not None:
        quiet = evidence.last_opaque_accepted + WINDOW
        if quiet > earliest:
            earliest = quiet
            reason = (
                f"an opaque token was accepted at {_stamp(evidence.last_opaque_accepted)}; "
                f"finalize needs {int(WINDOW)} s without one"
            )
    if at >= earliest:
        return True, earliest, "no opaque token can still be alive or in use"
    return False, earliest, reason


def render_status(result: Status) -> str:
    e = result.evidence
    lines = [
        f"phase: {result.phase}; store: {'persistent' if result.persistent else 'in memory'}; "
        f"access-token lifetime {result.lifetime} s; evidence: {e.source}",
        "validations, last hour: "
        + (", ".join(f"{k.replace('_', ' ')} {v}" for k, v in e.last_hour.items()) or "none"),
        "validations, last day:  "
        + (", ".join(f"{k.replace('_', ' ')} {v}" for k, v in e.last_day.items()) or "none"),
        f"hybrid code running since: {_stamp(e.started)}",
        *(
            [
                f"replicas on the hybrid reader: {e.replicas_hybrid} of {e.replicas_scraped} "
                f"scraped; the latest started {_stamp(e.fleet_since)}"
            ]
            if e.replicas_scraped is not None
            else []
        ),
        "last opaque token minted after the hybrid start: "
        + (_stamp(e.last_opaque_minted) if e.last_opaque_minted else "none"),
        f"last opaque token accepted: {_stamp(e.last_opaque_accepted)}",
    ]
    if e.opaque_clients:
        lines.append("clients still presenting opaque tokens:")
        lines += [
            f"  {c['client_id'] or '(unknown)'}: {c['count']}"
            + (f", last seen {_stamp(c['last_seen'])}" if c.get("last_seen") else "")
            for c in e.opaque_clients
        ]
    if result.ready:
        lines.append(f"verdict: ready ({result.reason})")
    else:
        lines.append(f"verdict: not ready, earliest at {_stamp(result.earliest)} ({result.reason})")
    return "\n".join(lines) + "\n"
