"""Codemods: one change each, turning findings into edits of the target's files."""

from __future__ import annotations

from migrate.runtime_api import PACKAGE as RUNTIME_NAME

__all__ = ["RUNTIME_NAME"]
