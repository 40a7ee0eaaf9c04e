"""The public names of :mod:`migrate.verify`."""

from __future__ import annotations

import migrate.verify


def test_public_names_are_pinned() -> None:
    """The package exports exactly its facade."""
    assert migrate.verify.__all__ == [
        "Check",
        "Credentials",
        "Status",
        "run_checks",
    ]
