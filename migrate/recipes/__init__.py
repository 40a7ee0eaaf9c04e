"""The registry of server shapes: one recipe module each, one line in :data:`RECIPES`.

The planners ask every recipe to recognise the tree (:func:`choose`): none matching means
no legacy authorization server here (a plan with no step), two matching is an error
naming both, since a tree holds one server.
"""

from __future__ import annotations

from migrate.recipes import handwritten, sdk_provider
from migrate.recipes.base import Contribution, Match, Recipe
from migrate.scan.source import SourceTree

RECIPES: tuple[Recipe, ...] = (handwritten.RECIPE, sdk_provider.RECIPE)

__all__ = ["RECIPES", "Contribution", "Match", "Recipe", "TwoShapes", "choose"]


class TwoShapes(Exception):
    """Two recipes claim the tree: the message names both and their first evidence."""


def choose(tree: SourceTree, recipes: tuple[Recipe, ...] = RECIPES) -> Match | None:
    matches = [m for m in (r.recognise(tree) for r in recipes) if m is not None]
    if len(matches) > 1:
        claims = "; ".join(
            f"{m.describe()} at {', '.join(e.where for e in m.evidence[:3])}" for m in matches
        )
        raise TwoShapes(f"the tree holds more than one kind of authorization server: {claims}")
    return matches[0] if matches else None
