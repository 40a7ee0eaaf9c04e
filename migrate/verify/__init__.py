"""`migrate verify`: check a running server from outside, as a demanding client would.

The checklist of STANDARDS.md (metadata, JWKS, protected resource metadata, the 401
challenge, a fresh token as an RFC 9068 JWT, introspection) run as live HTTP checks.
Behind this facade: ``client`` (a small OAuth client), ``checks`` and ``token_checks``
(one function per check), ``runner`` (fetches in order, calls the checks), ``command``.
"""

from __future__ import annotations

from migrate.verify.checks import Check, Status
from migrate.verify.client import Credentials
from migrate.verify.command import verify_command
from migrate.verify.runner import run_checks

__all__ = ["Check", "Credentials", "Status", "run_checks", "verify_command"]
