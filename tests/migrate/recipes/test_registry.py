"""Choosing a recipe: one shape per tree, named with its evidence; none is no server."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrate.recipes import RECIPES, Contribution, Match, TwoShapes, choose
from migrate.recipes.handwritten import RECIPE as HAND_WRITTEN
from migrate.scan.findings import Finding, ManualStep
from migrate.scan.source import SourceTree
from tests.migrate.tree_support import copy_sample


class EveryTree:
    """A second shape that claims every tree: enough to put two recipes on one tree."""

    name = "every-tree"
    title = "claims any tree"
    sdk_records = False

    def recognise(self, tree: SourceTree) -> Match | None:
        return Match(self, (Finding("server", "anywhere.py:1", "a server"),), None)

    def hybrid(self, match: Match) -> Contribution:
        return Contribution()

    def final_leftovers(self, match: Match) -> list[ManualStep]:
        return []


def test_the_sample_is_hand_written_with_evidence(tmp_path: Path) -> None:
    match = choose(SourceTree(copy_sample(tmp_path)))
    assert match is not None and match.recipe is HAND_WRITTEN
    kinds = {e.kind for e in match.evidence}
    assert {"metadata", "mint", "gate"} <= kinds
    assert all(e.where.startswith("sample_legacy/") for e in match.evidence)


def test_a_tree_without_oauth_code_matches_no_recipe(tmp_path: Path) -> None:
    (tmp_path / "util.py").write_text("import secrets\nKEY = secrets.token_hex(8)\n")
    assert choose(SourceTree(tmp_path)) is None


def test_two_matching_recipes_is_an_error_naming_both(tmp_path: Path) -> None:
    tree = SourceTree(copy_sample(tmp_path))
    with pytest.raises(TwoShapes) as raised:
        choose(tree, (*RECIPES, EveryTree()))
    message = str(raised.value)
    assert "hand-written" in message and "every-tree" in message
    assert "sample_legacy/" in message and "anywhere.py:1" in message
