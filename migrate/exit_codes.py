"""The exit codes of every `migrate` command: one table, one meaning per code.

A CI script branches on these, so a code never means two things: "changes pending" (2)
is not a usage error (64), and "uncommitted changes" (3) is not "not ready yet" (7).
Errors carry their code as a class attribute (:mod:`migrate.errors`); no command maps
an error to a number by hand.
"""

from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    OK = 0  # done, or nothing to do
    ERROR = 1  # an error: bad input, an unreadable file, a refusal not listed below
    PENDING = 2  # plan / finalize --plan-only: changes are pending
    DIRTY = 3  # apply / finalize: uncommitted changes in the tree
    STALE = 4  # a saved plan is stale, tampered, foreign or of another kit version
    EDITED = 5  # rollback: files were edited since the apply (nothing changed)
    BLOCKED = 6  # a manual step blocks the change (plan says so too; nothing written)
    NOT_READY = 7  # status / finalize: opaque tokens may still be alive
    CHECKS_FAILED = 8  # verify: a live check failed
    USAGE = 64  # bad options or arguments (sysexits' EX_USAGE)
    INTERRUPTED = 130  # Ctrl-C or SIGTERM; any unfinished write was undone


MEANINGS: dict[Exit, str] = {
    Exit.OK: "done, or nothing to do",
    Exit.ERROR: "error (bad input, unreadable file, refusal)",
    Exit.PENDING: "plan: changes pending",
    Exit.DIRTY: "uncommitted changes in the tree",
    Exit.STALE: "the saved plan is stale, tampered or foreign",
    Exit.EDITED: "rollback: files edited since the apply",
    Exit.BLOCKED: "blocked by a manual step; nothing written",
    Exit.NOT_READY: "status/finalize: not ready, opaque tokens may be alive",
    Exit.CHECKS_FAILED: "verify: a check failed",
    Exit.USAGE: "usage error",
    Exit.INTERRUPTED: "interrupted; unfinished writes undone",
}


def table() -> str:
    """The table as `--help` and the README print it."""
    return "\n".join(f"{int(code):>3}  {MEANINGS[code]}" for code in Exit)
