"""Build the hybrid -> final plan: JWT-only gates, revocation on delete, the final wiring.

Same engine and plan format as `apply` (see :mod:`migrate.planner`): `finalize` writes it
with :func:`migrate.apply.apply_plan`, and `rollback` returns to the hybrid phase.

Every manual step finalize finds blocks it (``plan.blocked_by``, exit 6, nothing
written): a mint or gate still legacy, a resolve it cannot rewrite, a gate whose mint
wrote no record it could read, a field the gate reads that no claim gives, a delete that
cannot revoke. Each would leave a final server that answers 500, lets revoked tokens in,
or still looks tokens up in the legacy store. ``--force`` overrides readiness only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

import libcst as cst

from migrate import emit, steps
from migrate.codemods import (
    RUNTIME_NAME,
    final_gate,
    final_mint,
    refill_stores,
    revoke_on_delete,
)
from migrate.codemods.edits import FileEdits, rewrite
from migrate.errors import PlanError
from migrate.plan import FileChange, Plan, Step, digest, read_exact
from migrate.planner import NOTHING_FOUND, manual_steps, report_unreadable
from migrate.recipes import TwoShapes, choose
from migrate.scan.findings import Finding, ManualStep
from migrate.scan.record_writes import RecordWrite, find_record_writes
from migrate.scan.source import ParseFailure, SourceFile, SourceTree
from migrate.scan.syntax import dotted, imported_names, walk
from migrate.state import read_state


def plan_final(root: Path, exclude: Iterable[str] = ()) -> Plan:
    root = root.resolve()
    state = read_state(root)
    plan = Plan(str(root), state.phase, "final")
    if state.phase == "final":
        return plan
    if state.phase != "hybrid":
        raise PlanError(f"{root} is in the {state.phase} phase: run `migrate apply` first")
    tree = SourceTree(root, exclude)
    try:
        sdk = _require_hybrid_code(plan, tree)
        writes, missing = find_record_writes(tree)
        wiring = _wiring(root, state.wiring)
        by_step = _edits(plan, tree, writes, missing, wiring, sdk)
    except ParseFailure as failure:
        raise PlanError(str(failure)) from None
    _require_readable(tree)
    _changes(plan, tree, by_step, wiring)
    plan.blocked_by += [m.blocker for m in plan.manual if m.blocks_apply]
    report_unreadable(plan, tree)
    return plan


def _require_readable(tree: SourceTree) -> None:
    """A file the scan could not read may still hold a legacy mint or gate, which would
    stop working (or let opaque tokens through) once only JWTs are accepted."""
    hidden = [f"{e.rel} ({e.reason})" for e in tree.unreadable.values() if e.sensitive]
    if hidden:
        raise PlanError(
            "finalize needs every access-token mint and bearer gate migrated first, and "
            "cannot read: " + "; ".join(sorted(hidden))
        )


LEGACY_GUIDE = "Manual steps: finalize"


def _require_hybrid_code(plan: Plan, tree: SourceTree) -> bool:
    """Finalize only a tree whose every access-token mint and bearer gate calls the
    runtime: an opaque mint left behind would lock every client out once JWTs alone
    pass, a legacy gate would keep reading the store, and status cannot see either (only
    the runtime counts). The recipe that recognises the tree says what is still legacy;
    each one left is a blocking manual step."""
    try:
        match = choose(tree)
    except TwoShapes as both:
        raise PlanError(str(both)) from None
    if match is None:
        raise PlanError(f"{NOTHING_FOUND} under {tree.root}")
    plan.recipe = match.describe()
    plan.evidence = list(match.evidence)
    for step in match.recipe.final_leftovers(match):
        _manual(plan, step)
    how = "migrate it (see `migrate plan`), then finalize again"
    expected = (
        "a call of the runtime's resolve whose legacy lookup finalize cannot "
        "rewrite (pass it as `legacy=`)"
    )
    for where in _unrewritable_resolves(tree):
        _manual(plan, ManualStep(where, expected, how, LEGACY_GUIDE, True))
    return match.recipe.sdk_records


def _unrewritable_resolves(tree: SourceTree) -> list[str]:
    """``oauth_migration.resolve(token, <lookup>)`` with the lookup passed positionally:
    the final gate would keep a legacy lookup it never calls and build no record."""
    names = (f"{RUNTIME_NAME}.resolve", f"{RUNTIME_NAME}.resolve_async")
    found = []
    for source in tree.with_text(f"{RUNTIME_NAME}.resolve"):
        for node in walk(source.module):
            if isinstance(node, cst.Call) and dotted(node.func) in names:
                positional = [a for a in node.args if a.keyword is None and not a.star]
                if len(positional) > 1 or any(a.star for a in node.args):
                    found.append(source.where(node))
    return found


def _wiring(root: Path, recorded: str | None) -> Path:
    found = [root / recorded] if recorded and (root / recorded).exists() else []
    if not found:
        raise PlanError(f"no {emit.PACKAGE}/wiring.py under {root}: was `apply` run here?")
    return found[0]


def _edits(
    plan: Plan,
    tree: SourceTree,
    writes: list[RecordWrite],
    missing: list[str],
    wiring: Path,
    sdk: bool,
) -> dict[str, dict[str, FileEdits]]:
    gate_step, revoke_step = final_gate.STEP.id, revoke_on_delete.STEP.id
    refill_step = refill_stores.STEP.id
    by_step: dict[str, dict[str, FileEdits]] = {gate_step: {}, revoke_step: {}, refill_step: {}}
    gate_files = [
        s for s in tree.with_text("oauth_migration.resolve") if final_gate.find_hybrid_resolves(s)
    ]
    for where in missing:
        _manual(plan, ManualStep(where, "the record the mint writes (a constructor, dict or SQL "
                "INSERT): the final gate could not rebuild it from the claims",
                "pass `record=lambda c: <the legacy record built from c.sub, c.client_id, "
                "c.scope, c.exp, ...>` to oauth_migration.resolve in the gate",
                LEGACY_GUIDE, True))  # fmt: skip
    for source in gate_files if writes else ():
        refills = FileEdits()
        edits, unsupplied = final_gate.final_gate(source, writes[0], tree, sdk=sdk, refills=refills)
        edits.imports += _callee_imports(writes[0], source, tree)
        by_step[gate_step][source.rel] = edits
        if refills.edits:
            by_step[refill_step][source.rel] = refills
        for read in unsupplied:
            _manual(plan, read)
    store = revoke_on_delete.token_store(writes)
    deletes, revocations, cannot = revoke_on_delete.plan_revocations(tree, store)
    for delete in deletes:
        plan.findings.append(Finding("delete", delete.where, delete.detail))
    for step in cannot:
        _manual(plan, step)
    for rel, edits in revocations.items():
        edits.imports.append(_import_line(wiring, tree.root, rel))
        by_step[revoke_step][rel] = edits
    by_step[final_mint.STEP.id] = _final_mints(tree)
    return by_step


def _final_mints(tree: SourceTree) -> dict[str, FileEdits]:
    found = {}
    for source in tree.with_text(final_mint.MINT):
        edits = final_mint.final_mint(source)
        if edits.edits:
            found[source.rel] = edits
    return found


def _runtime_files(plan: Plan, root: Path, wiring: Path) -> list[str]:
    """The runtime package as this kit emits it, in the final phase (same lifetime and MCP path)."""
    package_dir = emit.package_dir_of(wiring.relative_to(root).as_posix())
    wired = read_exact(wiring)
    lifetime, mcp_path = emit.wiring_lifetime(wired), emit.wiring_mcp_path(wired)
    changed = []
    for rel, text in emit.emitted_files(
        package_dir, mode="final", lifetime=lifetime, mcp_path=mcp_path
    ).items():
        path = root / rel
        before = read_exact(path) if path.exists() else None
        plan.reads[rel] = digest(before) if before is not None else "absent"
        if before != text:
            plan.changes.append(FileChange(rel, before, text, emitted=True))
            changed.append(rel)
    return changed


def _manual(plan: Plan, manual: ManualStep) -> None:
    if manual not in plan.manual:
        plan.manual.append(manual)


def _import_line(wiring: Path, root: Path, rel: str) -> str:
    return emit.import_line(emit.package_dir_of(wiring.relative_to(root).as_posix()), rel)


def _callee_imports(write: RecordWrite, gate: SourceFile, tree: SourceTree) -> list[str]:
    """An import of the record's class into the gate's module, when it lacks one."""
    if write.callee is None:
        return []
    head = (dotted(write.callee) or "").split(".")[0]
    bound = set(imported_names(gate.module)) | {
        s.name.value for s in gate.module.body if isinstance(s, cst.ClassDef | cst.FunctionDef)
    }
    if not head or head in bound:
        return []
    defining = _defining_module(write.source, head, tree)
    if defining is None:
        return []
    here, there = PurePosixPath(gate.rel).parent, PurePosixPath(defining)
    if there.parent == here:
        return (
            [f"from .{there.stem} import {head}"]
            if here.parts
            else [f"from {there.stem} import {head}"]
        )
    return [f"from {'.'.join(there.with_suffix('').parts)} import {head}"]


def _defining_module(source: SourceFile, name: str, tree: SourceTree) -> str | None:
    """The file that defines class ``name``: the mint's module or the one it imports from."""
    if any(isinstance(s, cst.ClassDef) and s.name.value == name for s in source.module.body):
        return source.rel
    pattern = re.compile(rf"^class {re.escape(name)}\b", re.MULTILINE)
    for rel, candidate in sorted(tree.files.items()):
        if pattern.search(candidate.text):
            return rel
    return None


def _changes(
    plan: Plan, tree: SourceTree, by_step: dict[str, dict[str, FileEdits]], wiring: Path
) -> None:
    for parsed in tree.files.values():
        if parsed.parsed:  # the plan depends on its text (deletes, gates, record writes)
            plan.reads[parsed.rel] = parsed.sha256
    merged: dict[str, FileEdits] = {}
    for files in by_step.values():
        for rel, edits in files.items():
            merged.setdefault(rel, FileEdits()).merge(edits)
    for rel in sorted(merged):
        source = tree.files[rel]
        plan.reads[rel] = source.sha256
        try:
            after = rewrite(source.module, merged[rel])
        except ValueError as problem:
            raise PlanError(f"{rel}: {problem}") from None
        if after != source.text:
            plan.changes.append(FileChange(rel, source.text, after, encoding=source.encoding))
    step_files: dict[str, list[str]] = {step: sorted(f) for step, f in by_step.items()}
    step_files[steps.FINAL_WIRING.id] = _runtime_files(plan, tree.root, wiring)
    for spec in steps.steps_of("final"):
        if step_files.get(spec.id):
            plan.steps.append(Step(spec.id, spec.title, spec.safety, step_files[spec.id]))
    plan.steps += manual_steps(plan)
