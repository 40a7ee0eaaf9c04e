"""The registry of steps: every step a plan can hold, in the order a plan lists them.

A codemod is one module holding a ``STEP`` (:class:`migrate.codemods.spec.StepSpec`) and
one line here. The steps that write support files rather than edit code (the key, the
runtime package, the requirements, .gitignore) are declared here. Planners, ``--only`` /
``--skip``, and the tests that pin the registry read :data:`STEPS`; manual steps
(``manual-N``) are not registered: they are what the kit could not do.
"""

from __future__ import annotations

from migrate.codemods import (
    final_gate,
    final_mint,
    hybrid_gate,
    install_mcp,
    install_runtime,
    mint_jwt,
    refill_stores,
    revoke_on_delete,
    wrap_metadata,
)
from migrate.codemods.spec import Phase, StepSpec

# One line per codemod module.
CODEMODS = (
    wrap_metadata,
    mint_jwt,
    hybrid_gate,
    revoke_on_delete,
    install_runtime,
    install_mcp,
    final_gate,
    final_mint,
    refill_stores,
)

KEYS = StepSpec(
    "keys",
    "generate the RS256 signing key (kept out of version control)",
    phases=("hybrid",),
    runtime=True,
)
EMIT_RUNTIME = StepSpec("emit-runtime", "add the runtime package", phases=("hybrid",), runtime=True)
REQUIREMENTS = StepSpec(
    "requirements", "add pyjwt[crypto] and cryptography to the requirements", phases=("hybrid",)
)
GITIGNORE = StepSpec(
    "gitignore", "keep the private key and metrics out of version control", phases=("hybrid",)
)
FINAL_WIRING = StepSpec(
    "final-wiring",
    "switch the runtime package to the final phase (this kit's version)",
    phases=("final",),
)

STEPS: tuple[StepSpec, ...] = (
    KEYS,
    EMIT_RUNTIME,
    wrap_metadata.STEP,
    mint_jwt.STEP,
    hybrid_gate.STEP,
    revoke_on_delete.STEP,
    install_runtime.STEP,
    install_mcp.STEP,
    REQUIREMENTS,
    GITIGNORE,
    final_gate.STEP,
    final_mint.STEP,
    refill_stores.STEP,
    FINAL_WIRING,
)


def codemod_steps() -> dict[str, StepSpec]:
    """Codemod module name (``mint_jwt``) -> its step, for every registered codemod."""
    return {module.__name__.rsplit(".", 1)[1]: module.STEP for module in CODEMODS}


def steps_of(phase: Phase) -> tuple[StepSpec, ...]:
    return tuple(step for step in STEPS if phase in step.phases)


def ids_of(phase: Phase) -> tuple[str, ...]:
    return tuple(step.id for step in steps_of(phase))


def spec(step_id: str) -> StepSpec:
    for step in STEPS:
        if step.id == step_id:
            return step
    raise KeyError(step_id)


def code_steps(phase: Phase) -> frozenset[str]:
    """The steps that rewrite the server's code in ``phase``."""
    return frozenset(s.id for s in steps_of(phase) if s.edits_code)


def runtime_steps(phase: Phase) -> frozenset[str]:
    """The steps without which code calling the runtime cannot run."""
    return frozenset(s.id for s in steps_of(phase) if s.runtime)
