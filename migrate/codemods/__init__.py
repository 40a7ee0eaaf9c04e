"""Codemods: one change each, turning findings into edits of the target's files."""

from __future__ import annotations

RUNTIME_NAME = "oauth_migration"


def runtime_call(method: str, *args: object) -> str:
    """How migrated code names a runtime method, for messages and docs."""
    return f"{RUNTIME_NAME}.{method}(" + ", ".join(str(a) for a in args) + ")"
