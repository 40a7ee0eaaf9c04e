"""Prometheus exposition of the token counters, read at scrape time.

`prometheus_collector()` and `render_prometheus()` read the counters when scraped, so the
request path pays nothing for them. Counters are cumulative per process:

- `oauth_migrate_token_validations_total{kind,outcome,reason}` (counter)
- `oauth_migrate_token_validations_by_client_total{kind,outcome,client_id}` (counter; `client_id=""`
  when the token's record names no client)
- `oauth_migrate_tokens_minted_total{kind}` (counter)
- `oauth_migrate_last_opaque_accepted_timestamp_seconds` (gauge, Unix time; 0 when never)
- `oauth_migrate_last_opaque_minted_timestamp_seconds` (gauge, Unix time; 0 when never)
- `oauth_migrate_started_timestamp_seconds` (gauge, Unix time this process began counting)

Copied into servers with the other runtime modules: prometheus_client is imported lazily
when present, and nothing here needs it otherwise.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # Annotations only: metrics imports this module, so a runtime import would be a cycle.
    from .metrics import Metrics, MetricsSnapshot

__all__ = ["PrometheusCollector", "import_prometheus", "render_prometheus"]


def import_prometheus() -> tuple[ModuleType, ModuleType] | None:
    """prometheus_client and its core module, or None when it is not installed."""
    # import_module rather than an import statement: a server without prometheus_client that
    # runs mypy over this copied file must not fail on a missing import.
    try:
        return (
            importlib.import_module("prometheus_client"),
            importlib.import_module("prometheus_client.core"),
        )
    except ImportError:
        return None


class PrometheusCollector:
    """Builds metric families from a snapshot at scrape time."""

    def __init__(self, metrics: Metrics, core: ModuleType) -> None:
        self._metrics = metrics
        self._core = core

    def describe(self) -> list[Any]:
        # Names only, so registering does not read the counters.
        return list(self._families(None))

    def collect(self) -> Iterator[Any]:
        yield from self._families(self._metrics.snapshot())
        for extra in self._metrics.extra_families:
            yield from extra(self._core)

    def _families(self, snapshot: MetricsSnapshot | None) -> Iterator[Any]:
        yield self._validations(snapshot)
        yield self._by_client(snapshot)
        yield self._minted(snapshot)
        yield from self._gauges(snapshot)

    def _validations(self, snapshot: MetricsSnapshot | None) -> Any:
        family = self._core.CounterMetricFamily(
            "oauth_migrate_token_validations_total",
            "Bearer tokens validated, by token kind, outcome and reason.",
            labels=("kind", "outcome", "reason"),
        )
        counts = snapshot.validations if snapshot is not None else {}
        for labels, count in sorted(counts.items()):
            family.add_metric(labels, count)
        return family

    def _by_client(self, snapshot: MetricsSnapshot | None) -> Any:
        family = self._core.CounterMetricFamily(
            "oauth_migrate_token_validations_by_client_total",
            "Bearer tokens validated, by token kind, outcome and client id.",
            labels=("kind", "outcome", "client_id"),
        )
        counts = snapshot.by_client if snapshot is not None else {}
        labelled = sorted(
            ((kind, outcome, client_id or ""), count)
            for (kind, outcome, client_id), count in counts.items()
        )
        for labels, count in labelled:
            family.add_metric(labels, count)
        return family

    def _minted(self, snapshot: MetricsSnapshot | None) -> Any:
        family = self._core.CounterMetricFamily(
            "oauth_migrate_tokens_minted_total",
            "Access tokens minted, by token kind.",
            labels=("kind",),
        )
        family.add_metric(("jwt",), snapshot.jwt_minted if snapshot is not None else 0)
        family.add_metric(("opaque",), snapshot.opaque_minted if snapshot is not None else 0)
        return family

    def _gauges(self, snapshot: MetricsSnapshot | None) -> Iterator[Any]:
        core = self._core
        accepted = snapshot.last_opaque_accepted if snapshot is not None else None
        minted = snapshot.last_opaque_minted if snapshot is not None else None
        yield core.GaugeMetricFamily(
            "oauth_migrate_last_opaque_accepted_timestamp_seconds",
            "Unix time an opaque access token was last accepted; 0 when never.",
            value=accepted or 0.0,
        )
        yield core.GaugeMetricFamily(
            "oauth_migrate_last_opaque_minted_timestamp_seconds",
            "Unix time an opaque access token was last minted; 0 when never.",
            value=minted or 0.0,
        )
        yield core.GaugeMetricFamily(
            "oauth_migrate_started_timestamp_seconds",
            "Unix time this process started counting (the hybrid code began to run).",
            value=self._metrics.started,
        )


def render_prometheus(metrics: Metrics) -> bytes | None:
    """The Prometheus text exposition of `metrics`, or None without prometheus_client."""
    prometheus = import_prometheus()
    if prometheus is None:
        return None
    client, core = prometheus
    registry = client.CollectorRegistry(auto_describe=False)
    registry.register(PrometheusCollector(metrics, core))
    return bytes(client.generate_latest(registry))
