"""Build the legacy -> hybrid plan: run the finders once, turn findings into steps and files.

This is the one engine behind `migrate plan` and `migrate apply`: both call
:func:`plan_hybrid`; `apply` then writes what it returns (or refuses a stale plan file).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath

import libcst as cst

from migrate import emit
from migrate.codemods.edits import FileEdits, rewrite
from migrate.codemods.hybrid_gate import hybrid_gate
from migrate.codemods.install_runtime import install_runtime
from migrate.codemods.mint_jwt import mint_jwt
from migrate.codemods.revoke_on_delete import plan_revocations, token_store
from migrate.codemods.wrap_metadata import wrap_metadata
from migrate.dependencies import dependency_file
from migrate.plan import FileChange, Plan, Step, digest, read_exact
from migrate.scan.apps import AppSite, find_apps, resolve_issuer
from migrate.scan.findings import Manual, blocker, blocks, manual_entry
from migrate.scan.gates import BearerGate, find_gates
from migrate.scan.lifetime import access_lifetime
from migrate.scan.metadata import MetadataProducer, find_metadata
from migrate.scan.minting import MintSite, find_mints
from migrate.scan.record_writes import RecordWrite, write_near
from migrate.scan.source import ParseFailure, SourceTree
from migrate.scan.stores import describe_store
from migrate.state import read_state
from shims.keys import KeyProblem, KeyRing, KeysUnavailable
from shims.policy import DEFAULT_LIFETIME

STEP_TITLES = {
    "keys": "generate the RS256 signing key (kept out of version control)",
    "emit-runtime": "add the runtime package",
    "wrap-metadata": "add jwks_uri, introspection_endpoint and S256 to the RFC 8414 metadata",
    "mint-jwt": "mint RFC 9068 JWT access tokens instead of opaque ones",
    "hybrid-gate": "accept JWTs and opaque tokens at the bearer gate",
    "revoke-on-delete": "make the legacy delete paths revoke JWTs too (jti denylist)",
    "install-runtime": "serve JWKS, introspection and RFC 9728 metadata; fix the 401 challenge",
    "requirements": "add pyjwt[crypto] and cryptography to the requirements",
    "gitignore": "keep the private key and metrics out of version control",
}


class PlanError(Exception):
    """The tree cannot be planned (unreadable files, nothing that looks like a server)."""


class _Collected:
    """What the finders found, plus the manual steps they reported."""

    def __init__(self, tree: SourceTree) -> None:
        self.tree = tree
        self.producers, manual_metadata = find_metadata(tree)
        self.mints, manual_mints = find_mints(tree)
        self.gates, manual_gates = find_gates(tree)
        self.apps = find_apps(tree)
        self.manual: list[Manual] = [*manual_metadata, *manual_mints, *manual_gates]
        self.manual_sites = {"mint-jwt": manual_mints, "hybrid-gate": manual_gates}
        self.reported = {
            "metadata": len(self.producers) + len(manual_metadata),
            "mint": len(self.mints) + len(manual_mints),
            "gate": len(self.gates) + len(manual_gates),
        }


def plan_hybrid(
    root: Path, only: Iterable[str] = (), skip: Iterable[str] = (), exclude: Iterable[str] = ()
) -> Plan:
    root = root.resolve()
    if not root.is_dir():
        raise PlanError(f"{root}: not a folder")
    state = read_state(root)
    tree = SourceTree(root, exclude)
    try:
        found = _Collected(tree)
    except ParseFailure as failure:
        raise PlanError(str(failure)) from None
    plan = Plan(str(root), state.phase, "hybrid")
    _report(plan, found)
    by_step = _edits(plan, found)
    keep = _kept_steps(set(only), set(skip))
    edits = _by_file({k: v for k, v in by_step.items() if k in keep})
    package_dir = _package_dir(tree, edits)
    _file_changes(plan, tree, edits, package_dir, keep)
    if "requirements" in keep or "gitignore" in keep:
        _support_files(plan, root, keep)
    plan.generate_keys = "keys" in keep and bool(edits) and not _has_keys(root)
    plan.steps = _steps(plan, by_step, keep)
    _blockers(plan, found, by_step)
    report_unreadable(plan, tree)
    return plan


def report_unreadable(plan: Plan, tree: SourceTree) -> None:
    """Name every file the scan set aside; one that could hold a mint, gate or metadata
    blocks apply, since the plan cannot see what it would have to change there."""
    if tree.exclude:
        plan.notes.append("Left out of the scan (--exclude): " + ", ".join(tree.exclude))
    for rel, entry in sorted(tree.unreadable.items()):
        if entry.sensitive:
            plan.findings.append(_finding("unreadable", rel, entry.reason))
            plan.blocked_by.append(
                f"{rel}: {entry.reason}; it may hold a token mint, bearer gate or metadata "
                "the plan cannot see"
            )
        else:
            plan.notes.append(f"Not scanned: {rel}: {entry.reason}.")


def _blockers(plan: Plan, found: _Collected, by_step: dict[str, dict[str, FileEdits]]) -> None:
    """Manual steps that block the apply of every code change (``blocks`` set):

    - code that calls the runtime breaks the server until the runtime is installed on the
      app, and wrapped metadata would advertise a JWKS and introspection nothing serves;
    - a kind of site rewritten in some places and left manual in others (an opaque mint
      beside JWT mints, a legacy gate beside hybrid ones) is a half-migrated server;
    - a delete that cannot revoke (set by :func:`plan_revocations`)."""
    calls_runtime = any(by_step.get(step) for step in CODE_STEPS - {"install-runtime"})
    for manual in plan.manual:
        if (
            calls_runtime
            and manual["guide"].endswith("installing the runtime")
            and not by_step.get("install-runtime")
        ):
            manual["blocks"] = "yes"
    for step, sites in found.manual_sites.items():
        left = {(m.where, m.expected) for m in sites}
        for manual in plan.manual if by_step.get(step) else ():
            if (manual["where"], manual["expected"]) in left:
                manual["blocks"] = "yes"
    plan.blocked_by += [blocker(m) for m in plan.manual if blocks(m)]


def _report(plan: Plan, found: _Collected) -> None:
    for producer in found.producers:
        plan.findings.append(_finding("metadata", producer.where, _describe_metadata(producer)))
    for mint in found.mints:
        plan.findings.append(_finding("mint", mint.where, _describe_mint(mint)))
    for gate in found.gates:
        plan.findings.append(_finding("gate", gate.where, _describe_gate(gate)))
    for app in found.apps:
        detail = f"{app.framework} app `{app.variable}`" + (
            " (runtime installed)" if app.migrated else ""
        )
        plan.findings.append(_finding("app", app.where, detail))
    store = describe_store(found.tree, found.gates)
    plan.store_persistent = store.persistent
    plan.findings.append(_finding("store", store.where, store.text))
    plan.notes.append(store.hybrid_period)
    plan.manual += [_manual(m) for m in found.manual]


def _finding(kind: str, where: str, detail: str) -> dict[str, str]:
    return {"kind": kind, "where": where, "detail": detail}


def _manual(manual: Manual) -> dict[str, str]:
    return manual_entry(manual)


def _code(node: cst.CSTNode) -> str:
    return cst.Module([]).code_for_node(node)


def _describe_metadata(producer: MetadataProducer) -> str:
    if producer.migrated:
        return "already passed through the runtime"
    missing = [
        k for k in ("jwks_uri", "introspection_endpoint", "code_challenge_methods_supported")
        if k not in producer.keys
    ]  # fmt: skip
    issuer = _code(producer.issuer) if producer.issuer is not None else "?"
    return f"{producer.shape}, issuer `{issuer}`; lacks {', '.join(missing) or 'nothing'}"


def _describe_mint(mint: MintSite) -> str:
    if mint.migrated:
        return "already mints JWTs"
    claims = ", ".join(f"{k}={_code(v)}" for k, v in mint.claims.items())
    return f"`{_code(mint.expression)}` in {mint.function.name.value}() -> {claims}"


def _describe_gate(gate: BearerGate) -> str:
    if gate.migrated or gate.lookup is None:
        return f"{gate.function.name.value}() already calls the runtime"
    return f"{gate.function.name.value}() looks the token up with `{_code(gate.lookup.expression)}`"


def _edits(plan: Plan, found: _Collected) -> dict[str, dict[str, FileEdits]]:
    """Step id -> file -> the edits that step makes there."""
    by_step: dict[str, dict[str, FileEdits]] = {}

    def add(step: str, rel: str, edits: FileEdits) -> None:
        if edits.edits:
            by_step.setdefault(step, {}).setdefault(rel, FileEdits()).merge(edits)

    for producer in found.producers:
        add("wrap-metadata", producer.source.rel, wrap_metadata(producer))
    for mint in found.mints:
        add("mint-jwt", mint.source.rel, mint_jwt(mint))
    for gate in found.gates:
        add("hybrid-gate", gate.source.rel, hybrid_gate(gate))
    if by_step.get("mint-jwt"):
        _revocations(plan, found, add)
    app = _choose_app(plan, found)
    if app is not None:
        add("install-runtime", app.source.rel, _install(plan, found, app))
    _require_pieces(plan, found)
    return by_step


CODE_STEPS = frozenset(
    {"wrap-metadata", "mint-jwt", "hybrid-gate", "revoke-on-delete", "install-runtime"}
)
# Code that calls the runtime needs the package, its key and its install on the app.
RUNTIME_STEPS = frozenset({"keys", "emit-runtime", "install-runtime"})


def _revocations(plan: Plan, found: _Collected, add: Callable[[str, str, FileEdits], None]) -> None:
    """``revoke()`` before every legacy delete, from the hybrid phase on: the denylist then
    knows every revocation of a JWT's lifetime when `finalize` makes it the only check."""
    deletes, by_file, manual = plan_revocations(found.tree, token_store(_record_writes(found)))
    for delete in deletes:
        plan.findings.append(_finding("delete", delete.where, delete.detail))
    for rel, edits in by_file.items():
        add("revoke-on-delete", rel, edits)
    plan.manual += [_manual(m) for m in manual]


def _record_writes(found: _Collected) -> list[RecordWrite]:
    writes = [write_near(found.tree, m.source, m.expression) for m in found.mints]
    return [w for w in writes if w is not None]


def _kept_steps(only: set[str], skip: set[str]) -> set[str]:
    unknown = (only | skip) - set(STEP_TITLES)
    if unknown:
        raise PlanError(f"unknown step id(s): {', '.join(sorted(unknown))}")
    return {s for s in STEP_TITLES if (not only or s in only) and s not in skip}


def check_selection(only: Iterable[str], skip: Iterable[str]) -> None:
    """Refuse a selection of steps that leaves code calling a runtime that is not there.

    The engine plans any selection (tests look at one codemod at a time); the commands
    that write into a user's tree call this first."""
    keep = _kept_steps(set(only), set(skip))
    if keep & CODE_STEPS and not keep >= RUNTIME_STEPS:
        missing = ", ".join(sorted(RUNTIME_STEPS - keep))
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


def _choose_app(plan: Plan, found: _Collected) -> AppSite | None:
    if len(found.apps) == 1:
        return found.apps[0]
    where = ", ".join(a.where for a in found.apps) or "(none found)"
    plan.manual.append(
        _manual(
            Manual(
                where,
                f"exactly one Starlette, FastAPI or Flask app object; found {len(found.apps)}",
                "call `oauth_migration.install_starlette(app, issuer=...)` (or "
                "`install_flask`) where the app serving /mcp is complete",
                "Manual steps: installing the runtime",
            )
        )
    )
    return None


def _install(plan: Plan, found: _Collected, app: AppSite) -> FileEdits:
    if app.migrated:
        return FileEdits()
    issuer = resolve_issuer(found.tree, found.producers[0], app) if found.producers else None
    if issuer is None:
        plan.manual.append(
            _manual(
                Manual(
                    app.where,
                    "an issuer expression that can be evaluated where the app is built",
                    f"call `oauth_migration.{_install_method(app)}"
                    f"({app.variable}, issuer=<the metadata's issuer>)` there, or set "
                    "OAUTH_MIGRATE_ISSUER",
                    "Manual steps: installing the runtime",
                )
            )
        )
        return FileEdits()
    return install_runtime(app, issuer)


def _install_method(app: AppSite) -> str:
    return "install_flask" if app.framework == "flask" else "install_starlette"


def _require_pieces(plan: Plan, found: _Collected) -> None:
    expected = {
        "metadata": "an RFC 8414 metadata dict with issuer and endpoints",
        "mint": "an access token minted with secrets/os.urandom/uuid",
        "gate": "a bearer-token lookup in a middleware, dependency or decorator",
    }
    for kind, what in expected.items():
        if not found.reported[kind]:
            plan.manual.append(
                _manual(
                    Manual(
                        "(whole tree)",
                        f"{what}; none found",
                        f"see the MIGRATION.md section for the {kind} and make that change by hand",
                        "Manual steps: " + {"mint": "minting"}.get(kind, kind),
                    )
                )
            )


def _package_dir(tree: SourceTree, edits: dict[str, FileEdits]) -> str:
    """The top-level package holding every edited file, or "" for the tree's root."""
    tops = {PurePosixPath(rel).parts[0] for rel in edits if len(PurePosixPath(rel).parts) > 1}
    if len(tops) == 1 and all(len(PurePosixPath(rel).parts) > 1 for rel in edits):
        top = next(iter(tops))
        if (tree.root / top / "__init__.py").exists():
            return top
    return ""


def _file_changes(
    plan: Plan, tree: SourceTree, edits: dict[str, FileEdits], package_dir: str, keep: set[str]
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
    if edits and "emit-runtime" in keep:
        lifetime = _access_lifetime(plan, tree)
        for rel, text in emit.emitted_files(package_dir, mode="hybrid", lifetime=lifetime).items():
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
    plan.findings.append(_finding("lifetime", where, f"access tokens live {seconds} s"))
    return seconds


def _support_files(plan: Plan, root: Path, keep: set[str]) -> None:
    if not plan.changes:
        return
    if "requirements" in keep:
        _requirements(plan, root)
    if "gitignore" not in keep:
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
            _manual(
                Manual(
                    "requirements.txt",
                    "a requirements.txt, or a pyproject.toml with [project] dependencies, "
                    "to add the runtime's dependencies to; none found",
                    "add " + " and ".join(emit.RUNTIME_REQUIREMENTS) + " to your dependencies",
                    "Manual steps: dependencies",
                )
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
    files["emit-runtime"] = [c.path for c in plan.changes if c.emitted]
    files["requirements"] = [
        c.path for c in plan.changes if c.path in ("requirements.txt", "pyproject.toml")
    ]
    files["gitignore"] = [c.path for c in plan.changes if c.path == ".gitignore"]
    steps = []
    if plan.generate_keys:
        steps.append(Step("keys", STEP_TITLES["keys"], "safe", [f"{emit.STATE_DIR}/keys/"]))
    for step_id, title in STEP_TITLES.items():
        if step_id != "keys" and step_id in keep and files.get(step_id):
            steps.append(Step(step_id, title, "safe", files[step_id]))
    for index, manual in enumerate(plan.manual, 1):
        steps.append(
            Step(f"manual-{index}", manual["expected"], "manual", [manual["where"]], manual["todo"])
        )
    return steps
