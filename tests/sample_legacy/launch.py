"""How the tests start the sample server: the command in sample_legacy/START, from the repo root.

``SAMPLE_LEGACY_ROOT`` names another folder holding a ``sample_legacy/`` copy to start
instead (the end-to-end tests run these tests against a migrated copy); unset, the
repository's own sample is started.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from tests.migrate.tree_support import REPO_ROOT
from tests.support.server_process import ServerProcess, command_from_start_file

SAMPLE_ROOT = Path(os.environ.get("SAMPLE_LEGACY_ROOT") or REPO_ROOT)
START_FILE = SAMPLE_ROOT / "sample_legacy" / "START"

# What the server would otherwise inherit from the shell running the tests.
HERMETIC_ENV: dict[str, str | None] = {
    "DEMO_USER": None,
    "SAMPLE_TOKEN_DB": None,
    "HOST": None,
    "LOG_LEVEL": "warning",
}


def sample_server(log_dir: Path, env: Mapping[str, str | None] | None = None) -> ServerProcess:
    """A (not yet started) sample_legacy server; ``env`` adds to or overrides HERMETIC_ENV."""
    return ServerProcess(
        command_from_start_file(START_FILE),
        cwd=SAMPLE_ROOT,
        log_dir=log_dir,
        env={**HERMETIC_ENV, **(env or {})},
    )
