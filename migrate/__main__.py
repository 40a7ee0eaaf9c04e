"""`python -m migrate` runs the same CLI as the `migrate` console script."""

from __future__ import annotations

from migrate.cli import main

main()
