"""The key folder of a migrated tree, as `migrate keys retire` sees it.

A key may be retired once no token it signed can be alive: that wait is the access-token
lifetime the server uses, which for a folder inside ``.oauth-migration/`` is the one its
tree's wiring holds (:func:`migrate.state.recorded_lifetime`).
"""

from __future__ import annotations

from pathlib import Path

from migrate import emit
from migrate.errors import StateError
from migrate.state import State, read_state, recorded_lifetime


def tree_lifetime(keys_dir: Path) -> int:
    """The access-token lifetime the server of this key folder uses (retiring sooner would
    refuse live tokens): its migrated tree's, for a folder inside .oauth-migration/."""
    folder = keys_dir.resolve()
    root = folder.parent.parent
    try:
        state = read_state(root) if folder.parent.name == emit.STATE_DIR else State()
    except StateError:
        state = State()
    return recorded_lifetime(root, state)
