"""`migrate verify`: check a running server from outside, as a demanding client would.

The checklist of the MCP authorization spec and its RFCs (RFC 8414 metadata, the JWKS,
RFC 9728 protected resource metadata, the 401 challenge, a fresh token as an RFC 9068
JWT, RFC 7662 introspection) run as live HTTP checks. Behind this facade: ``client`` (a
small OAuth client), ``checks`` and ``token_checks`` (one function per check),
``runner`` (fetches in order, calls the checks). The command is
:mod:`migrate.commands.verify`. The names are loaded on first use, so importing the
facade does not import httpx.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["Check", "Credentials", "Status", "run_checks"]

_HOMES = {
    "Check": "migrate.verify.checks",
    "Status": "migrate.verify.checks",
    "Credentials": "migrate.verify.client",
    "run_checks": "migrate.verify.runner",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'migrate.verify' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
