"""`python -m migrate` runs the same CLI as the `migrate` console script."""

from __future__ import annotations

import sys

try:
    from migrate.cli import main
except KeyboardInterrupt:  # Ctrl-C while Python is still importing: no traceback either
    sys.stderr.write("Error: interrupted; nothing was changed\n")
    sys.exit(130)

main()
