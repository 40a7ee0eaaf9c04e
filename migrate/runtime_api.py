"""The names of the runtime methods that migrated code calls, taken from the runtime itself.

Codemods emit these calls and finders recognise them; reading each name off
:class:`shims.deferred.DeferredMigration` means a rename there fails here at import, not in
a migrated server at run time.
"""

from __future__ import annotations

import inspect

from shims.deferred import DeferredMigration as _Runtime


def _parameter(method: object, name: str) -> str:
    """``name``, checked to be a parameter of ``method`` (a rename fails at import)."""
    if name not in inspect.signature(method).parameters:  # type: ignore[arg-type]
        raise ImportError(f"{method!r} has no parameter {name!r}")
    return name


PACKAGE = "oauth_migration"  # the name the runtime is imported under in migrated code
MINT = _Runtime.mint_access_token.__name__
# The hybrid mint's former opaque expression, used while no issuer is known.
MINT_FALLBACK = _parameter(_Runtime.mint_access_token, "legacy")
RESOLVE = _Runtime.resolve.__name__
RESOLVE_ASYNC = _Runtime.resolve_async.__name__
REVOKE = _Runtime.revoke.__name__
ROW = _Runtime.row.__name__
REQUEST_LOOKUP = _Runtime.request_lookup.__name__
METADATA = _Runtime.authorization_server_metadata.__name__
# Its keyword that leaves S256 out; a rename in the runtime fails here at import.
METADATA_S256 = next(
    p for p in _Runtime.authorization_server_metadata.__code__.co_varnames if p == "s256"
)
INSTALL_STARLETTE = _Runtime.install_starlette.__name__
INSTALL_FLASK = _Runtime.install_flask.__name__
INSTALL_MCP = _Runtime.install_mcp.__name__
SDK_RECORD = _Runtime.sdk_record.__name__
