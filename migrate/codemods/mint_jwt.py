"""Mint RFC 9068 JWTs where the legacy code minted opaque access tokens.

Changes: the random expression that made the access token (``secrets.token_urlsafe(32)``,
``"at_" + os.urandom(24).hex()``, ``uuid4().hex``, ...) becomes
``oauth_migration.mint_access_token(subject=..., client_id=..., scope=..., resource=...)``
with the names the finder matched by role in the enclosing function, and the former
expression as ``legacy=lambda: <expression>``: the runtime mints it only in the hybrid
phase while no issuer is known (a provider's unit tests, built without the server; see
:mod:`shims.deferred`), counted as an opaque mint. ``final-mint`` drops it at finalize.

Why it is safe: the value keeps its place, so the legacy code still stores it, returns it
under ``access_token`` and deletes it on rotation or revocation exactly as before; only
its content changes. Refresh tokens, codes and client secrets minted beside it are left
alone (RFC 9068 is about access tokens; refresh tokens stay opaque).

Refuses: a mint where the user, client or scope names are not in scope, or two access
mints in one function (manual steps); an expression already minting a JWT.
"""

from __future__ import annotations

import libcst as cst

from migrate import runtime_api
from migrate.codemods.build import keyword, runtime_call
from migrate.codemods.edits import FileEdits
from migrate.codemods.spec import StepSpec
from migrate.scan.minting import MintSite
from migrate.scan.syntax import walk

STEP = StepSpec(
    "mint-jwt",
    "mint RFC 9068 JWT access tokens instead of opaque ones",
    phases=("hybrid",),
    consumes=("mint",),
    edits_code=True,
)

METHOD = runtime_api.MINT


def mint_call(
    claims: dict[str, cst.BaseExpression], legacy: cst.BaseExpression | None = None
) -> cst.Call:
    roles = ("subject", "client_id", "scope", "resource")
    arguments = [keyword(role, claims[role]) for role in roles if role in claims]
    if legacy is not None and _deferrable(legacy):
        fallback = cst.Lambda(cst.Parameters(), legacy.with_changes(lpar=(), rpar=()))
        arguments.append(keyword(runtime_api.MINT_FALLBACK, fallback))
    return runtime_call(METHOD, *arguments)


def _deferrable(expression: cst.BaseExpression) -> bool:
    """Whether ``lambda: expression`` means the same expression, run later: not where it
    awaits, yields or binds a name."""
    return not any(isinstance(n, cst.Await | cst.Yield | cst.NamedExpr) for n in walk(expression))


def mint_jwt(site: MintSite) -> FileEdits:
    edits = FileEdits()
    if not site.migrated:
        call = mint_call(site.claims, site.expression)
        edits.add(site.expression, lambda node: call)
    return edits
