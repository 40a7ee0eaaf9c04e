"""What a step declares about itself: its id, its phases, what it consumes, its kind.

Every codemod module holds one ``STEP`` of this type; :mod:`migrate.steps` lists them
(one line each) beside the steps that write support files (keys, the runtime package,
requirements, .gitignore). The planners, ``--only``/``--skip`` and the tests read that
registry, never a hand-kept list of ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Phase = Literal["hybrid", "final"]


@dataclass(frozen=True)
class StepSpec:
    id: str
    title: str
    phases: tuple[Phase, ...]
    # The finding kinds whose sites it edits (``mint``, ``gate``, ...): empty for steps
    # that write support files.
    consumes: tuple[str, ...] = ()
    # It rewrites the server's code (which then calls the runtime).
    edits_code: bool = False
    # Code that calls the runtime cannot run without this step.
    runtime: bool = False
    # It installs the runtime on the server (every recipe has exactly one such step).
    installs: bool = False
    # Every registered step is automatic; what the kit cannot do becomes a manual step.
    safety: Literal["safe"] = "safe"
