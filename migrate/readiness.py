"""Whether finalize may run: the status verdict, as `status` reports it and `finalize`
enforces it.

``finalize`` refuses (exit 7) while opaque tokens may be alive, and (exit 1) when no
evidence can be read; ``--force`` turns both into a warning, which says which clients
were still seen with opaque tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from migrate import status as reader
from migrate.errors import NotReady, StateError, StatusError, WrongPhase
from migrate.errors import StatusError as EvidenceMissing
from migrate.state import read_state
from migrate.status import Status, render_status
from migrate.status import _stamp as stamp


def status(path: Path, prometheus: str | None = None) -> Status:
    """The status of a hybrid tree (one name, which tests replace to act meanwhile)."""
    return reader.status(path, prometheus=prometheus)


def hybrid_status(path: Path, prometheus: str | None) -> Status | None:
    """The verdict for a hybrid tree; None for a final one (nothing to wait for).

    A legacy tree is refused: there is no hybrid period to read yet."""
    phase = read_state(path).phase
    if phase == "final":
        return None
    if phase != "hybrid":
        raise WrongPhase(f"{path.resolve()} is in the {phase} phase: run `migrate apply` first")
    return status(path, prometheus=prometheus)


@dataclass(frozen=True)
class Readiness:
    """What finalize may go on with: a warning to print when it goes on regardless."""

    warning: str | None = None


def check_ready(path: Path, prometheus: str | None, force: bool) -> Readiness:
    """Refuse to finalize before status is ready, unless ``force``; say what forcing risks."""
    try:
        result = status(path, prometheus=prometheus)
    except (EvidenceMissing, StateError) as problem:
        if not force:
            raise StatusError(f"{problem} (or finalize anyway with --force)") from None
        return Readiness(f"warning: no evidence ({problem}); finalizing because of --force")
    if result.ready:
        return Readiness()
    if not force:
        raise NotReady(
            f"refusing, status is not ready: run `migrate finalize {path}` again after "
            f"{_when(result)}, or pass --force",
            detail=render_status(result),
        )
    clients = ", ".join(c["client_id"] or "(unknown)" for c in result.evidence.opaque_clients)
    return Readiness(
        "warning: finalizing before status is ready: opaque tokens still alive will be "
        f"refused with 401 ({result.reason})"
        + (f"; clients seen with them: {clients}" if clients else "")
    )


def _when(result: Status) -> str:
    return stamp(result.earliest) if result.earliest is not None else "the server has run"
