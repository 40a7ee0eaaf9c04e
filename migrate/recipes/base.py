"""What a recipe is: one shape of legacy server, recognised by evidence, planned by steps.

A recipe answers three questions about a tree: is this my shape (:meth:`Recipe.recognise`,
with the evidence at file:line), what does the hybrid phase change (:meth:`Recipe.hybrid`,
edits keyed by registered step id, plus findings and manual steps), and what is still
legacy before the final phase (:meth:`Recipe.final_leftovers`). The planners do the rest,
the same way for every recipe: file changes, the runtime package, support files, keys,
the blocking rules and the step list (:mod:`migrate.planner`, :mod:`migrate.finalizer`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from migrate.codemods import revoke_on_delete
from migrate.codemods.edits import FileEdits
from migrate.scan.deletes import TokenStore
from migrate.scan.findings import Finding, ManualStep
from migrate.scan.source import SourceTree


@dataclass
class Contribution:
    """What a recipe adds to a hybrid plan."""

    # Registered step id -> file -> the edits that step makes there.
    edits: dict[str, dict[str, FileEdits]] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    manual: list[ManualStep] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    store_persistent: bool = True
    # The manual steps that stand where the runtime's install should be: they block as
    # soon as any code step calls the runtime.
    install_missing: list[ManualStep] = field(default_factory=list)
    # Step id -> the sites of its kind the codemod could not rewrite: with edits of that
    # step elsewhere they block (a half-migrated server).
    left_manual: dict[str, list[ManualStep]] = field(default_factory=dict)
    # The MCP endpoint's path the runtime protects and names (RFC 9728 resource, the
    # path-inserted metadata URL, the 401 challenge); None leaves the runtime's default.
    mcp_path: str | None = None

    def add(self, step: str, rel: str, edits: FileEdits) -> None:
        if edits.edits:
            self.edits.setdefault(step, {}).setdefault(rel, FileEdits()).merge(edits)

    def step_edits(self, step: str) -> bool:
        return bool(self.edits.get(step))

    def revoke_on_delete(self, tree: SourceTree, store: TokenStore) -> None:
        """``revoke()`` before every legacy delete of ``store``, from the hybrid phase on:
        the denylist then knows every revocation of a JWT's lifetime when `finalize` makes
        it the only check. A delete that cannot name its token is a blocking step."""
        deletes, by_file, manual = revoke_on_delete.plan_revocations(tree, store)
        self.findings += [Finding("delete", d.where, d.detail) for d in deletes]
        for rel, edits in by_file.items():
            self.add(revoke_on_delete.STEP.id, rel, edits)
        self.manual += manual


@dataclass(frozen=True)
class Match:
    """A recipe's claim on a tree: the evidence for it, and what its finders collected
    (kept so that planning does not scan twice)."""

    recipe: Recipe
    evidence: tuple[Finding, ...]
    collected: Any

    def describe(self) -> str:
        return f"{self.recipe.name} ({self.recipe.title})"

    @classmethod
    def claim(cls, recipe: Recipe, evidence: list[Finding], collected: Any) -> Match | None:
        """The recipe's match, or None when it found no evidence."""
        return cls(recipe, tuple(evidence), collected) if evidence else None


class Recipe(Protocol):
    name: str
    title: str
    # The final gate's records are MCP SDK access-token models (built by the runtime's
    # ``sdk_record`` for the installed SDK), not the legacy record rebuilt as written.
    sdk_records: bool

    def recognise(self, tree: SourceTree) -> Match | None:
        """The evidence that ``tree`` holds a server of this shape, or None."""

    def hybrid(self, match: Match) -> Contribution:
        """The hybrid phase's edits, findings and manual steps."""

    def final_leftovers(self, match: Match) -> list[ManualStep]:
        """What is still legacy (an opaque mint, a legacy gate): each blocks finalize."""
