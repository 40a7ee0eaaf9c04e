"""Revoked JWT ids, each kept until its token's ``exp`` (after that the token is dead anyway).

A JWT that never reaches the legacy store would silently survive revocation; the legacy
delete paths (refresh rotation, ``/revoke``) feed this list instead. It is per process:
several replicas need a shared list, which MIGRATION.md describes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Denylist:
    """A set of ``jti`` values with expiry; membership is a dict lookup."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def __contains__(self, jti: object) -> bool:
        return jti in self._until

    def __len__(self) -> int:
        return len(self._until)

    def add(self, jti: str, exp: float) -> None:
        with self._lock:
            self._until[jti] = exp
            self._purge()

    def _purge(self) -> None:
        now = self._clock()
        for jti in [j for j, exp in self._until.items() if exp <= now]:
            del self._until[jti]
