"""Recipe: an authorization server written by hand on Starlette, FastAPI or Flask.

Recognised by the evidence of its own OAuth code: an RFC 8414 metadata document it builds,
an access-token mint, or a bearer-token lookup (each found by :mod:`migrate.scan`, also
once migrated, so `finalize` recognises the tree `apply` left). Its hybrid steps wrap the
metadata, mint JWTs, put the hybrid gate on the lookup, revoke on delete, and install the
runtime on the one app object serving the MCP endpoint.
"""

from __future__ import annotations

from collections.abc import Callable

import libcst as cst

from migrate import runtime_api
from migrate.codemods import hybrid_gate, install_runtime, mint_jwt, revoke_on_delete, wrap_metadata
from migrate.codemods.edits import FileEdits
from migrate.recipes import self_contained
from migrate.recipes.base import Contribution, Match
from migrate.scan.apps import (
    AppSite,
    UnsupportedApp,
    find_apps,
    find_unsupported_apps,
    resolve_issuer,
)
from migrate.scan.findings import Finding, ManualStep
from migrate.scan.gates import BearerGate, find_gates
from migrate.scan.metadata import MetadataProducer, find_metadata
from migrate.scan.minting import MintSite, find_mints, find_self_contained
from migrate.scan.pkce import find_pkce
from migrate.scan.providers import find_provider_classes
from migrate.scan.record_writes import RecordWrite, write_near
from migrate.scan.source import SourceTree
from migrate.scan.stores import describe_store

INSTALL_GUIDE = "Manual steps: installing the runtime"


class Collected:
    """What the finders found, plus the manual steps they reported.

    Sites inside a class of the MCP SDK's provider protocol are that recipe's
    (:mod:`migrate.recipes.sdk_provider`): the SDK serves those routes, not this code."""

    def __init__(self, tree: SourceTree) -> None:
        self.tree = tree
        mine = _outside_providers(tree)
        producers, manual_metadata = find_metadata(tree)
        mints, manual_mints = find_mints(tree)
        gates, manual_gates = find_gates(tree)
        self.producers = [p for p in producers if mine(p.where)]
        self.mints = [m for m in mints if mine(m.where)]
        self.gates = [g for g in gates if mine(g.where)]
        self.manual_metadata = [m for m in manual_metadata if mine(m.where)]
        self.manual_mints = [m for m in manual_mints if mine(m.where)]
        self.manual_gates = [m for m in manual_gates if mine(m.where)]
        self.apps = find_apps(tree)
        # Signed tokens count only where no opaque mint is left to migrate beside them.
        signed = [o for o in find_self_contained(tree) if mine(o.where)]
        self.self_contained = signed if not (self.mints or self.manual_mints) else []

    def evidence(self) -> list[Finding]:
        found = [Finding("metadata", p.where, describe_metadata(p)) for p in self.producers]
        found += [Finding("mint", m.where, describe_mint(m)) for m in self.mints]
        found += [Finding("mint", o.where, self_contained.describe(o)) for o in self.self_contained]
        found += [Finding("gate", g.where, describe_gate(g)) for g in self.gates]
        manual = [*self.manual_metadata, *self.manual_mints, *self.manual_gates]
        return found + [Finding("manual", m.where, m.expected) for m in manual]


def _outside_providers(tree: SourceTree) -> Callable[[str], bool]:
    """Whether a ``file:line`` lies outside every SDK provider class of the tree."""
    spans = [(c.source.rel, c.source.lines(c.node)) for c in find_provider_classes(tree)]

    def outside(where: str) -> bool:
        rel, _, line = where.rpartition(":")
        return not any(rel == r and line.isdigit() and int(line) in s for r, s in spans)

    return outside


class HandWritten:
    name = "hand-written"
    title = "OAuth routes written by hand on Starlette, FastAPI or Flask"
    sdk_records = False

    def recognise(self, tree: SourceTree) -> Match | None:
        collected = Collected(tree)
        return Match.claim(self, collected.evidence(), collected)

    def hybrid(self, match: Match) -> Contribution:
        found: Collected = match.collected
        if found.self_contained:
            return self_contained.contribution(found.self_contained, found.evidence())
        out = Contribution()
        _report(out, found)
        s256 = _pkce(out, found)
        for producer in found.producers:
            edits = wrap_metadata.wrap_metadata(producer, s256=s256)
            out.add(wrap_metadata.STEP.id, producer.source.rel, edits)
        for mint in found.mints:
            out.add(mint_jwt.STEP.id, mint.source.rel, mint_jwt.mint_jwt(mint))
        for gate in found.gates:
            out.add(hybrid_gate.STEP.id, gate.source.rel, hybrid_gate.hybrid_gate(gate))
        if out.step_edits(mint_jwt.STEP.id):
            out.revoke_on_delete(found.tree, revoke_on_delete.token_store(_record_writes(found)))
        app = _choose_app(out, found)
        if app is not None:
            out.mcp_path = _mcp_path(out, app)
            out.add(install_runtime.STEP.id, app.source.rel, _install(out, found, app))
        _require_pieces(out, found)
        out.left_manual = {
            mint_jwt.STEP.id: found.manual_mints,
            hybrid_gate.STEP.id: found.manual_gates,
        }
        return out

    def final_leftovers(self, match: Match) -> list[ManualStep]:
        found: Collected = match.collected
        left = [
            (m.where, "an access-token mint that still mints opaque tokens")
            for m in found.mints
            if not m.migrated
        ]
        left += [
            (g.where, "a bearer gate that still looks tokens up in the legacy store")
            for g in found.gates
            if not g.migrated
        ]
        left += [(m.where, m.expected) for m in [*found.manual_mints, *found.manual_gates]]
        if not any(m.migrated for m in found.mints):
            left.append(
                ("(whole tree)", "no access-token mint calls oauth_migration.mint_access_token")
            )
        how = "migrate it (see `migrate plan`), then finalize again"
        return [ManualStep(w, e, how, "Manual steps: finalize", True) for w, e in left]


RECIPE = HandWritten()


def _report(out: Contribution, found: Collected) -> None:
    out.findings += [f for f in found.evidence() if f.kind != "manual"]
    for app in found.apps:
        detail = f"{app.framework} app `{app.variable}`" + (
            " (runtime installed)" if app.migrated else ""
        )
        out.findings.append(Finding("app", app.where, detail))
    store = describe_store(found.tree, found.gates, [(m.source, m.function) for m in found.mints])
    out.store_persistent = store.persistent
    out.findings.append(Finding("store", store.where, store.text))
    out.notes.append(store.hybrid_period)
    out.manual += [*found.manual_metadata, *found.manual_mints, *found.manual_gates]


def _pkce(out: Contribution, found: Collected) -> bool:
    """Whether S256 may be added to the metadata: only when the token endpoint verifies
    ``code_verifier``. Otherwise a manual step, not blocking: leaving S256 out keeps the
    server exactly as safe as before (STANDARDS: never less safe), while adding it would
    promise clients a protection of their code that the server does not give."""
    if not found.producers or not found.mints:
        return True  # no token endpoint to judge: its absence is a blocking step already
    reading = find_pkce(found.tree)
    if reading.verified:
        return True
    advertised = any("code_challenge_methods_supported" in p.keys for p in found.producers)
    where = reading.where or found.producers[0].where
    expected = (
        "the token endpoint compares the S256 digest of code_verifier with the stored "
        "code_challenge"
    )
    seen = "read but never hashed and compared" if reading.where else "never read"
    lead = (
        "the metadata already advertises code_challenge_methods_supported, but"
        if advertised
        else "S256 left out of the metadata:"
    )
    found_text = f"{lead} code_verifier is {seen}"
    how = (
        "at the token endpoint, refuse (invalid_grant) a code whose "
        "base64url(sha256(code_verifier)) differs from its code_challenge (RFC 7636 §4.6); "
        "then plan again, and S256 is advertised"
    )
    out.manual.append(ManualStep(where, expected, how, "Manual steps: PKCE", False, found_text))
    return False


def _code(node: cst.CSTNode) -> str:
    return cst.Module([]).code_for_node(node)


def describe_metadata(producer: MetadataProducer) -> str:
    if producer.migrated:
        return "already passed through the runtime"
    missing = [
        k for k in ("jwks_uri", "introspection_endpoint", "code_challenge_methods_supported")
        if k not in producer.keys
    ]  # fmt: skip
    issuer = _code(producer.issuer) if producer.issuer is not None else "?"
    return f"{producer.shape}, issuer `{issuer}`; lacks {', '.join(missing) or 'nothing'}"


def describe_mint(mint: MintSite) -> str:
    if mint.migrated:
        return "already mints JWTs"
    claims = ", ".join(f"{k}={_code(v)}" for k, v in mint.claims.items())
    return f"`{_code(mint.expression)}` in {mint.function.name.value}() -> {claims}"


def describe_gate(gate: BearerGate) -> str:
    if gate.migrated or gate.lookup is None:
        return f"{gate.function.name.value}() already calls the runtime"
    return f"{gate.function.name.value}() looks the token up with `{_code(gate.lookup.expression)}`"


def _record_writes(found: Collected) -> list[RecordWrite]:
    writes = [write_near(found.tree, m.source, m.expression) for m in found.mints]
    return [w for w in writes if w is not None]


def _choose_app(out: Contribution, found: Collected) -> AppSite | None:
    """The one app object, or of several the one that routes the MCP endpoint."""
    if len(found.apps) == 1:
        return found.apps[0]
    serving = [a for a in found.apps if a.serves_mcp]
    if len(found.apps) > 1 and len(serving) == 1:
        others = ", ".join(f"`{a.variable}` ({a.where})" for a in found.apps if not a.serves_mcp)
        paths = ", ".join(sorted({r.path for r in serving[0].mcp}))
        out.notes.append(
            f"App: `{serving[0].variable}` ({serving[0].where}) serves the MCP endpoint "
            f"({paths}), so the runtime is installed there; not on {others}."
        )
        return serving[0]
    if not serving:
        unsupported = find_unsupported_apps(found.tree)
        if unsupported:
            _unsupported(out, unsupported)
            return None
    where = ", ".join(a.where for a in found.apps) or "(none found)"
    _install_missing(
        out,
        ManualStep(
            where,
            f"exactly one Starlette, FastAPI or Flask app object; found {len(found.apps)}",
            "call `oauth_migration.install_starlette(app, issuer=...)` (or "
            "`install_flask`) where the app serving /mcp is complete",
            INSTALL_GUIDE,
        ),
    )
    return None


def _unsupported(out: Contribution, apps: list[UnsupportedApp]) -> None:
    """One blocking step for an app the runtime has no adapter for: nothing is written,
    since the rewritten mints and gates would call a runtime nothing installs."""
    first = apps[0]
    others = "".join(f"; also {a.framework} at {a.where}" for a in apps[1:])
    out.manual.append(
        ManualStep(
            first.where,
            f"a Starlette, FastAPI or Flask app to install the runtime on; found "
            f"{first.framework}, which the kit does not support{others}",
            "serve the OAuth routes and the MCP endpoint from a Starlette, FastAPI or Flask "
            "app, or wire the runtime by hand (MIGRATION.md)",
            INSTALL_GUIDE,
            True,
        )
    )


def _mcp_path(out: Contribution, app: AppSite) -> str | None:
    """The path of the app's MCP endpoint as its routes declare it (None: the default)."""
    paths = sorted({r.path for r in app.mcp})
    if paths and all(_under(p, paths[0]) for p in paths):
        # One path covers the rest (``/mcp`` and ``/mcp/messages``): the runtime guards
        # and fixes the 401s of everything under it.
        route = next(r for r in app.mcp if r.path == paths[0])
        out.findings.append(Finding("mcp", route.where, f"MCP endpoint at {paths[0]}"))
        return paths[0]
    if not paths:
        out.notes.append(
            f"MCP endpoint: no route of `{app.variable}` ({app.where}) whose handler answers "
            "MCP's JSON-RPC could be followed; /mcp assumed. If it is elsewhere, set "
            "mcp_path= in oauth_migration/wiring.py after apply."
        )
        return None
    where = ", ".join(f"{r.path} ({r.where})" for r in app.mcp)
    _install_missing(
        out,
        ManualStep(
            app.where,
            f"one MCP endpoint on the app (the runtime protects one path); found {where}",
            "serve MCP at one path, or install the runtime by hand for the one clients use",
            INSTALL_GUIDE,
            True,
        ),
    )
    return None


def _under(path: str, prefix: str) -> bool:
    return prefix == "/" or path == prefix or path.startswith(prefix.rstrip("/") + "/")


def _install_missing(out: Contribution, step: ManualStep) -> None:
    out.manual.append(step)
    out.install_missing.append(step)


def _install(out: Contribution, found: Collected, app: AppSite) -> FileEdits:
    if app.migrated:
        return FileEdits()
    issuer = resolve_issuer(found.tree, found.producers[0], app) if found.producers else None
    if issuer is None:
        flask = app.framework == "flask"
        method = runtime_api.INSTALL_FLASK if flask else runtime_api.INSTALL_STARLETTE
        _install_missing(
            out,
            ManualStep(
                app.where,
                "an issuer expression that can be evaluated where the app is built",
                f"call `oauth_migration.{method}({app.variable}, issuer=<the metadata's "
                "issuer>)` there, or set OAUTH_MIGRATE_ISSUER",
                INSTALL_GUIDE,
            ),
        )
        return FileEdits()
    return install_runtime.install_runtime(app, issuer)


EXPECTED_PIECES = {
    "metadata": ("an RFC 8414 metadata dict with issuer and endpoints", "metadata"),
    "mint": ("an access token minted with secrets/os.urandom/uuid", "minting"),
    "gate": ("a bearer-token lookup in a middleware, dependency or decorator", "gate"),
}


def _require_pieces(out: Contribution, found: Collected) -> None:
    reported = {
        "metadata": len(found.producers) + len(found.manual_metadata),
        "mint": len(found.mints) + len(found.manual_mints),
        "gate": len(found.gates) + len(found.manual_gates),
    }
    for kind, (what, guide) in EXPECTED_PIECES.items():
        if not reported[kind]:
            out.manual.append(
                ManualStep(
                    "(whole tree)",
                    f"{what}; none found",
                    f"see the MIGRATION.md section for the {kind} and make that change by hand",
                    f"Manual steps: {guide}",
                )
            )
