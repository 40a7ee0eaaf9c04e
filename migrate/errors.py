"""Every failure a `migrate` command reports, each class carrying its exit code.

As in click (``ClickException.exit_code``), the code lives on the class: raising
:class:`DirtyTree` means exit 3, wherever it is raised, and no command picks a number.
The codes and their meanings are the table of :mod:`migrate.exit_codes`; the README
lists which class stands for which code, and a test holds the two together. The
command line's one handler (:func:`migrate.cli.run`) renders any of them as one line on
stderr, or as one JSON object with ``--format json``.

Errors of the runtime package (``shims.keys.KeyProblem``) cannot subclass these, since
the runtime is copied into servers that do not have `migrate`; :data:`FOREIGN` names the
class each becomes, in this one place (the handler calls :func:`adopt`).
"""

from __future__ import annotations

import sys
from typing import ClassVar

import click

from migrate.exit_codes import Exit


class MigrateError(click.ClickException):
    """An expected failure: one line for the user; ``exit_code`` says which code.

    ``detail`` is the evidence behind the refusal (finalize's status report), printed on
    stderr before the line."""

    exit_code: ClassVar[int] = int(Exit.ERROR)

    def __init__(self, message: str, *, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


class BadUsage(MigrateError):
    """An argument the command cannot use (a file for a folder, an unknown step id, a
    prompt without a terminal and without ``--yes``)."""

    exit_code = int(Exit.USAGE)


class NoSuchFolder(MigrateError):
    """PATH does not exist."""


class PlanError(MigrateError):
    """The tree cannot be planned (unreadable files, a selection of steps that would
    leave the server broken). The planner raises it."""


class PlanFileError(MigrateError):
    """A saved plan cannot be read, or ``--out`` cannot be written."""


class StateError(MigrateError):
    """An unreadable, edited or foreign state file."""


class StatusError(MigrateError):
    """No evidence could be read (no metrics, Prometheus unreachable)."""


class WrongPhase(MigrateError):
    """The command does not apply to the phase the tree is in (status before apply)."""


class NothingToRollBack(MigrateError):
    """No apply or finalize is recorded in the tree."""


class KeyRefused(MigrateError):
    """A key-folder command refused (an unsafe folder, a key set from the environment,
    a retire too early)."""


class ApplyRefused(MigrateError):
    """Apply, finalize or rollback wrote nothing: the base of the refusals below."""


class DirtyTree(ApplyRefused):
    """Uncommitted changes in the tree (``--allow-dirty`` writes over them)."""

    exit_code = int(Exit.DIRTY)


class StalePlan(ApplyRefused):
    """The plan is stale, tampered, foreign or of another kit version: plan again."""

    exit_code = int(Exit.STALE)


class EditedSinceApply(ApplyRefused):
    """Rollback would lose work: files were edited since the apply."""

    exit_code = int(Exit.EDITED)


class Blocked(ApplyRefused):
    """A manual step blocks the change; nothing was written."""

    exit_code = int(Exit.BLOCKED)


class NotReady(MigrateError):
    """Finalize refused: opaque tokens may still be alive (``--force`` overrides)."""

    exit_code = int(Exit.NOT_READY)


# Errors of modules that do not subclass the classes above yet (planner, state and status
# switch to them) or cannot (the runtime package): (module, class name, what it becomes).
FOREIGN: tuple[tuple[str, str, type[MigrateError]], ...] = (
    ("shims.keys", "KeyProblem", KeyRefused),
)


def adopt(problem: BaseException) -> MigrateError | None:
    """The MigrateError a failure of another module stands for (same message), or None.

    Modules are looked up in ``sys.modules`` only: an error of a module never imported
    cannot have been raised, and ``--help`` does not pay for an import."""
    for module_name, class_name, kind in FOREIGN:
        module = sys.modules.get(module_name)
        foreign = getattr(module, class_name, None) if module is not None else None
        if isinstance(foreign, type) and isinstance(problem, foreign):
            return kind(str(problem))
    return None


__all__ = [
    "ApplyRefused",
    "BadUsage",
    "Blocked",
    "DirtyTree",
    "FOREIGN",
    "EditedSinceApply",
    "KeyRefused",
    "MigrateError",
    "NoSuchFolder",
    "NotReady",
    "NothingToRollBack",
    "PlanError",
    "PlanFileError",
    "StalePlan",
    "StateError",
    "StatusError",
    "WrongPhase",
    "adopt",
]
