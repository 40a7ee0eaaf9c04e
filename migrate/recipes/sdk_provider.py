"""Recipe: an authorization server built on the MCP SDK's provider interface.

Recognised by a provider class (the methods of the SDK's
``OAuthAuthorizationServerProvider`` protocol, subclass or not, or a fastmcp
``OAuthProvider``) passed to a server object (``FastMCP``/``MCPServer``/fastmcp
``FastMCP``), found by :mod:`migrate.scan.providers`. The SDK owns the HTTP side, so the
steps touch the provider and the server object only: JWTs minted in the exchanges, the
hybrid gate in ``load_access_token``, revocation on the provider's deletes, and
``oauth_migration.install_mcp(server)`` right after the server is built, which serves the
JWKS, introspection and the metadata override from every app the server makes.
"""

from __future__ import annotations

import dataclasses

from migrate.codemods import hybrid_gate, install_mcp, mint_jwt
from migrate.recipes.base import Contribution, Match
from migrate.recipes.handwritten import describe_gate, describe_mint
from migrate.scan.deletes import TokenStore
from migrate.scan.findings import Finding, ManualStep
from migrate.scan.providers import ProviderServer, find_provider_servers
from migrate.scan.record_writes import write_near
from migrate.scan.source import SourceTree
from migrate.scan.stores import hybrid_period


class Collected:
    def __init__(self, tree: SourceTree) -> None:
        self.tree = tree
        self.servers, self.manual = find_provider_servers(tree)

    def evidence(self) -> list[Finding]:
        found: list[Finding] = []
        for server in self.servers:
            provider = server.provider
            found.append(Finding("provider", provider.where, f"class {provider.name}"))
            sdk = f"{server.sdk.package} {server.sdk.major or '?'}.x"
            found.append(Finding("server", server.where, f"`{server.server.variable}` ({sdk})"))
        return found + [Finding("manual", m.where, m.expected) for m in self.manual]


class SdkProvider:
    name = "sdk-provider"
    title = "the MCP SDK's OAuthAuthorizationServerProvider (mcp FastMCP/MCPServer, fastmcp)"
    sdk_records = True

    def recognise(self, tree: SourceTree) -> Match | None:
        collected = Collected(tree)
        return Match.claim(self, collected.evidence(), collected)

    def hybrid(self, match: Match) -> Contribution:
        found: Collected = match.collected
        out = Contribution(manual=list(found.manual))
        for server in found.servers:
            _report(out, server)
            _edits(out, server)
        if out.step_edits(mint_jwt.STEP.id):
            # Planned once for the tree: every delete of every server's store, edited once.
            out.revoke_on_delete(found.tree, _store(found.tree, found.servers))
        if len(found.servers) > 1:
            out.manual.append(_one_server(found.servers))
        # What the finder could not follow (a mint it cannot trace, a gate it cannot
        # isolate, a server it cannot name) beside JWT mints is a half-migrated provider.
        out.left_manual = {mint_jwt.STEP.id: list(found.manual)}
        return out

    def final_leftovers(self, match: Match) -> list[ManualStep]:
        found: Collected = match.collected
        left = [(m.where, m.expected) for m in found.manual]
        for server in found.servers:
            left += [(m.where, "an access-token mint that still mints opaque tokens")
                     for m in server.mints if not m.migrated]  # fmt: skip
            if server.gate is not None and not server.gate.migrated:
                left.append((server.gate.where, "a gate that still looks tokens up only"))
            if not server.server.migrated:
                left.append((server.where, "the runtime is not installed on this server"))
        how = "migrate it (see `migrate plan`), then finalize again"
        return [ManualStep(w, e, how, "Manual steps: finalize", True) for w, e in left]


RECIPE = SdkProvider()


def _report(out: Contribution, server: ProviderServer) -> None:
    sdk = server.sdk
    out.findings.append(Finding("sdk", sdk.evidence, f"{sdk.package} {sdk.major or '?'}.x"))
    out.findings += [Finding("app", a.where, f"{a.method}()") for a in server.apps]
    out.findings += [Finding("mint", m.where, describe_mint(m)) for m in server.mints]
    if server.gate is not None:
        out.findings.append(Finding("gate", server.gate.where, describe_gate(server.gate)))
    out.findings.append(Finding("store", server.store.where, server.store.text))
    out.store_persistent = server.store.persistent
    out.notes.append(hybrid_period(server.store.persistent))
    out.notes += [
        f"Decision ({d.where}): {d.text}; to change it: {d.override}" for d in server.decisions
    ]


def _one_server(servers: list[ProviderServer]) -> ManualStep:
    """One runtime serves one MCP server per process (a second ``install_mcp`` for another
    issuer is refused at import): several in one tree block until they are planned apart."""
    return ManualStep(
        ", ".join(s.where for s in servers),
        f"one MCP server object with an authorization server; found {len(servers)}",
        "plan and apply each server on its own (`--exclude` the others' modules), each "
        "running in a process of its own",
        "Manual steps: SDK provider",
        blocks_apply=True,
    )


def _store(tree: SourceTree, servers: list[ProviderServer]) -> TokenStore:
    """The stores the gates read and those the mints' records are written into."""
    stores = [s.token_store() for s in servers]
    writes = [write_near(tree, m.source, m.expression) for s in servers for m in s.mints]
    written = frozenset(w.store for w in writes if w is not None and w.store)
    names = frozenset().union(*(s.names for s in stores)) | written
    return dataclasses.replace(stores[0], names=names)


def _edits(out: Contribution, server: ProviderServer) -> None:
    for mint in server.mints:
        out.add(mint_jwt.STEP.id, mint.source.rel, mint_jwt.mint_jwt(mint))
    gate = server.gate
    if gate is not None:
        out.add(hybrid_gate.STEP.id, gate.source.rel, hybrid_gate.hybrid_gate(gate))
    site = server.server
    out.add(install_mcp.STEP.id, site.source.rel, install_mcp.install_mcp(site))
