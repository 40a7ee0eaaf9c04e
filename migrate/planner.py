"""Build the legacy -> hybrid plan: the chosen recipe's steps, then what every plan shares.

This is the one engine behind `migrate plan` and `migrate apply`: both call
:func:`plan_hybrid`; `apply` then writes what it returns (or refuses a stale plan file).
The recipe (:mod:`migrate.recipes`) recognises the server's shape and returns its edits by
registered step id (:mod:`migrate.steps`); this module turns them into file changes, adds
the runtime package, the support files and the key, and applies the blocking rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from migrate import emit, steps
from migrate.codemods.edits import FileEdits, rewrite
from migrate.dependencies import dependency_file
from migrate.errors import PlanError
from migrate.plan import FileChange, Plan, Step, digest, read_exact
from migrate.recipes import Contribution, TwoShapes, choose
from migrate.scan.findings import Finding, ManualStep
from migrate.scan.lifetime import access_lifetime
from migrate.scan.source import ParseFailure, SourceTree
from migrate.state import read_state
from shims.keys import KeyProblem, KeyRing, KeysUnavailable
from shims.policy import DEFAULT_LIFETIME

NOTHING_FOUND = "no legacy authorization server found"


def plan_hybrid(
    root: Path, only: Iterable[str] = (), skip: Iterable[str] = (), exclude: Iterable[str] = ()
) -> Plan:
    root = root.resolve()
    if not root.is_dir():
        raise PlanError(f"{root}: not a folder")
    state = read_state(root)
    tree = SourceTree(root, exclude)
    plan = Plan(str(root), state.phase, "hybrid")
    keep = _kept_steps(set(only), set(skip))
    try:
        match = choose(tree)
        if match is None:
            report_unreadable(plan, tree)
            plan.notes.append(_nothing_found(plan, root))
            return plan
        plan.recipe = match.describe()
        plan.evidence = list(match.evidence)
        found = match.recipe.hybrid(match)
    except ParseFailure as failure:
        raise PlanError(str(failure)) from None
    except TwoShapes as both:
        raise PlanError(str(both)) from None
    _take(plan, found)
    edits = _by_file({k: v for k, v in found.edits.items() if k in keep})
    package_dir = _package_dir(tree, edits)
    _file_changes(plan, tree, edits, package_dir, keep, found.mcp_path or emit.DEFAULT_MCP_PATH)
    if steps.REQUIREMENTS.id in keep or steps.GITIGNORE.id in keep:
        _support_files(plan, root, keep)
    plan.generate_keys = steps.KEYS.id in keep and bool(edits) and not _has_keys(root)
    plan.steps = _steps(plan, found.edits, keep)
    _blockers(plan, found)
    report_unreadable(plan, tree)
    return plan


def _take(plan: Plan, found: Contribution) -> None:
    plan.findings += found.findings
    plan.manual += found.manual
    plan.notes += found.notes
    plan.store_persistent = found.store_persistent


def _nothing_found(plan: Plan, root: Path) -> str:
    """The note of a tree no recipe recognised; it never says "nothing to migrate" over
    files the scan could not read (the plan then lists them and is blocked)."""
    if not plan.blocked_by:
        return f"{NOTHING_FOUND} under {root}: nothing to migrate."
    return (
        f"{NOTHING_FOUND} in the files read under {root}, but {len(plan.blocked_by)} "
        "could not be read (under Findings) and may hold one: read or --exclude them, "
        "then plan again."
    )


def report_unreadable(plan: Plan, tree: SourceTree) -> None:
    """Name every file the scan set aside; one that could hold a mint, gate or metadata
    blocks apply, since the plan cannot see what it would have to change there."""
    if tree.exclude:
        plan.notes.append("Left out of the scan (--exclude): " + ", ".join(tree.exclude))
    for rel, entry in sorted(tree.unreadable.items()):
        if entry.sensitive:
            plan.findings.append(Finding("unreadable", rel, entry.reason))
            plan.blocked_by.append(
                f"{rel}: {entry.reason}; it may hold a token mint, bearer gate or metadata "
                "the plan cannot see"
            )
        else:
            plan.notes.append(f"Not scanned: {rel}: {entry.reason}.")


def _blockers(plan: Plan, found: Contribution) -> None:
    """Manual steps that block the apply of every code change (``blocks_apply``):

    - code that calls the runtime breaks the server until the runtime is installed, and
      wrapped metadata would advertise a JWKS and introspection nothing serves: the
      recipe's ``install_missing`` steps block once any code step has edits;
    - a kind of site rewritten in some places and left manual in others (an opaque mint
      beside JWT mints, a legacy gate beside hybrid ones) is a half-migrated server;
    - a step a finder or codemod marked blocking itself (a delete that cannot revoke)."""
    installs = {s.id for s in steps.steps_of("hybrid") if s.installs}
    calls_runtime = any(found.step_edits(s) for s in steps.code_steps("hybrid") - installs)
    installed = any(found.step_edits(s) for s in installs)
    blocking = {m for m in found.install_missing if calls_runtime and not installed}
    for step_id, sites in found.left_manual.items():
        if found.step_edits(step_id):
            blocking |= set(sites)
    plan.manual = [m.blocking() if m in blocking else m for m in plan.manual]
    plan.blocked_by += [m.blocker for m in plan.manual if m.blocks_apply]


def _kept_steps(only: set[str], skip: set[str]) -> set[str]:
    ids = steps.ids_of("hybrid")
    unknown = (only | skip) - set(ids)
    if unknown:
        raise PlanError(f"unknown step id(s): {', '.join(sorted(unknown))}")
    return {s for s in ids if (not only or s in only) and s not in skip}


def check_selection(only: Iterable[str], skip: Iterable[str]) -> None:
    """Refuse a selection of steps that leaves code calling a runtime that is not there.

    The engine plans any selection (tests look at one codemod at a time); the commands
    that write into a user's tree call this first."""
    keep = _kept_steps(set(only), set(skip))
    installs = {s.id for s in steps.steps_of("hybrid") if s.installs}
    needed = steps.runtime_steps("hybrid") - installs
    lacking = sorted(needed - keep) + ([" or ".join(sorted(installs))] * (not keep & installs))
    if keep & steps.code_steps("hybrid") and lacking:
        missing = ", ".join(lacking)
        raise PlanError(
            f"the selected steps call the runtime and need {missing} too: the server "
            "would not start without them"
        )


def _by_file(by_step: dict[str, dict[str, FileEdits]]) -> dict[str, FileEdits]:
    merged: dict[str, FileEdits] = {}
    for files in by_step.values():
        for rel, edits in files.items():
            merged.setdefault(rel, FileEdits()).merge(edits)
    return merged


def _package_dir(tree: SourceTree, edits: dict[str, FileEdits]) -> str:
    """The top-level package holding every edited file, or "" for the tree's root."""
    tops = {PurePosixPath(rel).parts[0] for rel in edits if len(PurePosixPath(rel).parts) > 1}
    if len(tops) == 1 and all(len(PurePosixPath(rel).parts) > 1 for rel in edits):
        top = next(iter(tops))
        if (tree.root / top / "__init__.py").exists():
            return top
    return ""


def _file_changes(
    plan: Plan,
    tree: SourceTree,
    edits: dict[str, FileEdits],
    package_dir: str,
    keep: set[str],
    mcp_path: str,
) -> None:
    for rel in sorted(edits):
        source = tree.files[rel]
        edits[rel].imports.insert(0, emit.import_line(package_dir, rel))
        try:
            after = rewrite(source.module, edits[rel])
        except ValueError as problem:
            raise PlanError(f"{rel}: {problem}") from None
        plan.changes.append(FileChange(rel, source.text, after, encoding=source.encoding))
    for source in tree.files.values():
        if source.parsed:  # the plan depends on its text
            plan.reads[source.rel] = source.sha256
    if edits and steps.EMIT_RUNTIME.id in keep:
        lifetime = _access_lifetime(plan, tree)
        emitted = emit.emitted_files(
            package_dir, mode="hybrid", lifetime=lifetime, mcp_path=mcp_path
        )
        for rel, text in emitted.items():
            existing = tree.root / rel
            before = read_exact(existing) if existing.exists() else None
            if before != text:
                plan.changes.append(FileChange(rel, before, text, emitted=True))
            plan.reads[rel] = digest(before) if before is not None else "absent"


def _access_lifetime(plan: Plan, tree: SourceTree) -> int:
    found = access_lifetime(tree)
    if found is None:
        plan.notes.append(
            f"Access-token lifetime: not found in the code; {DEFAULT_LIFETIME} s assumed for "
            "the JWTs and for `migrate status`. If the legacy tokens live longer, set "
            "OAUTH_MIGRATE_TOKEN_LIFETIME or edit lifetime= in oauth_migration/wiring.py."
        )
        return DEFAULT_LIFETIME
    seconds, where = found
    plan.findings.append(Finding("lifetime", where, f"access tokens live {seconds} s"))
    return seconds


def _support_files(plan: Plan, root: Path, keep: set[str]) -> None:
    if not plan.changes:
        return
    if steps.REQUIREMENTS.id in keep:
        _requirements(plan, root)
    if steps.GITIGNORE.id not in keep:
        return
    gitignore = root / ".gitignore"
    before = read_exact(gitignore) if gitignore.exists() else None
    plan.reads[".gitignore"] = digest(before) if before is not None else "absent"
    ignored = ("keys/", "metrics.sqlite3*", "denylist.sqlite3*")
    lines = [f"/{emit.STATE_DIR}/{name}" for name in ignored]
    present = (before or "").splitlines()
    missing_lines = [line for line in lines if line not in present]
    if missing_lines:
        base = before or ""
        if base and not base.endswith("\n"):
            base += "\n"
        after = (
            base
            + "# oauth-migrate: private signing keys and metrics\n"
            + "\n".join(missing_lines)
            + "\n"
        )
        plan.changes.append(FileChange(".gitignore", before, after))


def _requirements(plan: Plan, root: Path) -> None:
    found = dependency_file(root)
    if found is None:
        plan.manual.append(
            ManualStep(
                "requirements.txt",
                "a requirements.txt, or a pyproject.toml with [project] dependencies, "
                "to add the runtime's dependencies to; none found",
                "create a requirements.txt (the kit then adds "
                + " and ".join(emit.RUNTIME_REQUIREMENTS)
                + " to it), or add them to the file your deployment installs from and run "
                "again with --skip requirements",
                "Manual steps: dependencies",
                # A server deployed without the runtime's packages does not start.
                blocks_apply=True,
            )
        )
        return
    name, before, after = found
    plan.reads[name] = digest(before)
    if after != before:
        plan.changes.append(FileChange(name, before, after))


def _has_keys(root: Path) -> bool:
    folder = root / emit.STATE_DIR / "keys"
    try:
        ring = KeyRing.from_folder(folder)
    except KeysUnavailable:
        return False
    except KeyProblem as problem:
        raise PlanError(f"{problem}; repair or remove {folder}") from None
    return bool(ring.keys)


def _steps(plan: Plan, by_step: dict[str, dict[str, FileEdits]], keep: set[str]) -> list[Step]:
    files = {step: sorted(by_file) for step, by_file in by_step.items()}
    files[steps.EMIT_RUNTIME.id] = [c.path for c in plan.changes if c.emitted]
    files[steps.REQUIREMENTS.id] = [
        c.path for c in plan.changes if c.path in ("requirements.txt", "pyproject.toml")
    ]
    files[steps.GITIGNORE.id] = [c.path for c in plan.changes if c.path == ".gitignore"]
    if plan.generate_keys:
        files[steps.KEYS.id] = [f"{emit.STATE_DIR}/keys/"]
    listed = [
        Step(spec.id, spec.title, spec.safety, files[spec.id])
        for spec in steps.steps_of("hybrid")
        if spec.id in keep and files.get(spec.id)
    ]
    return listed + manual_steps(plan)


def manual_steps(plan: Plan) -> list[Step]:
    """The plan's manual steps as steps ``manual-1``, ``manual-2``, ... (both phases)."""
    return [
        Step(f"manual-{index}", manual.expected, "manual", [manual.where], manual.how_to)
        for index, manual in enumerate(plan.manual, 1)
    ]
