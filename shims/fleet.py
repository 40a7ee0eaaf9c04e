"""What each replica tells Prometheus about itself, so a fleet can be judged as a whole.

``oauth_migrate_reader_info{mode="hybrid"} 1`` says this process runs the hybrid reader
(opaque tokens still accepted next to JWTs); ``migrate status --prometheus`` counts the
replicas that say so against every target Prometheus scrapes for them before it calls the
fleet ready. The shared denylist, when there is one, adds its own families.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

from .denylist import Denylist
from .gate import Mode

READER_INFO = "oauth_migrate_reader_info"


def families(mode: Mode, denylist: Denylist) -> Callable[[ModuleType], Iterator[Any]]:
    """The extra families of one runtime, for :attr:`Metrics.extra_families`."""

    def collect(core: ModuleType) -> Iterator[Any]:
        reader = core.GaugeMetricFamily(
            READER_INFO, "1: the token reader this process runs (hybrid or final).", labels=["mode"]
        )
        reader.add_metric([mode], 1.0)
        yield reader
        shared = getattr(denylist, "metric_families", None)
        if shared is not None:
            yield from shared(core)

    return collect
