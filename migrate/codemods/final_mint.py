"""Drop the hybrid mint's opaque fallback: the final phase mints JWTs only.

Changes: ``oauth_migration.mint_access_token(..., legacy=lambda: <opaque expression>)``,
written by ``mint-jwt`` in the hybrid phase, loses its ``legacy=`` argument; nothing else
in the call or around it changes.

Why it is safe: the runtime uses that argument only in the hybrid phase, and only while no
issuer is known (a provider built without its server, see :mod:`shims.deferred`); the final
runtime never calls it and raises instead. Removing it leaves no opaque mint in the final
tree, which is what finalize promises.

Refuses: nothing; a mint call without the argument (written by hand, or by an earlier kit)
is left as it is.
"""

from __future__ import annotations

import libcst as cst

from migrate import runtime_api
from migrate.codemods.build import runtime_name
from migrate.codemods.edits import FileEdits
from migrate.codemods.spec import StepSpec
from migrate.scan.source import SourceFile
from migrate.scan.syntax import dotted, walk

STEP = StepSpec(
    "final-mint",
    "drop the opaque fallback of the hybrid mint (JWTs only)",
    phases=("final",),
    consumes=("mint",),
    edits_code=True,
)

MINT = runtime_name(runtime_api.MINT)


def _fallback(arg: cst.Arg) -> bool:
    return arg.keyword is not None and arg.keyword.value == runtime_api.MINT_FALLBACK


def _without_fallback(call: cst.CSTNode) -> cst.CSTNode:
    assert isinstance(call, cst.Call)
    kept = [arg for arg in call.args if not _fallback(arg)]
    if kept:  # the argument removed was last: no comma left dangling
        kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    return call.with_changes(args=kept)


def final_mint(source: SourceFile) -> FileEdits:
    """The edits dropping ``legacy=`` from every runtime mint call of ``source``."""
    edits = FileEdits()
    for node in walk(source.module):
        if not isinstance(node, cst.Call) or dotted(node.func) != MINT:
            continue
        if any(_fallback(arg) for arg in node.args):
            edits.add(node, _without_fallback)
    return edits
