"""Codemods: one change each, turning findings into edits of the target's files."""

from __future__ import annotations

RUNTIME_NAME = "oauth_migration"
