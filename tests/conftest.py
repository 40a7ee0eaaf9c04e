"""Settings every test shares."""

from __future__ import annotations

import os

# The CLI prints a progress note on stderr after a second (migrate.cli_support.Progress);
# on a loaded machine any command can take that long, and tests that read the output
# exactly would see it. tests/migrate/test_progress.py sets its own threshold.
os.environ.setdefault("OAUTH_MIGRATE_PROGRESS_AFTER", "3600")
