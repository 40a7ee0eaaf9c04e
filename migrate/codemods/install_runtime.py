"""Install the runtime on the application object: routes, discovery, the 401 challenge.

Changes: one statement where the legacy code has finished building its app
(before the factory's ``return``, else after the last use of ``app`` before the server
starts or the ``__main__`` block, blank lines added after a decorated route):
``oauth_migration.install_starlette(app, issuer=...)`` (Starlette and FastAPI) or
``oauth_migration.install_flask(app, issuer=...)``. It serves the JWKS, introspection and
the RFC 9728 documents (root and path-inserted) unless the app already serves those paths,
and adds ``resource_metadata`` (RFC 9728 §5.1) to every Bearer 401 challenge. A factory
ending in ``return Starlette(...)`` first binds the app (``app = Starlette(...)``, the
call, ``return app``): the same object is returned, now with a name to install on.

Why it is safe: it only adds routes at paths the app does not serve and rewrites only the
``WWW-Authenticate`` header of 401 answers; the issuer it is given is the very expression
the legacy metadata uses, evaluated where the app is complete.

Refuses: an app built inside a branch (a script's ``if __name__ == "__main__":`` block
aside), several candidate apps, or an issuer expression that cannot be evaluated where
the app is built (manual steps).
"""

from __future__ import annotations

import libcst as cst

from migrate import runtime_api
from migrate.codemods.build import keyword, runtime_call
from migrate.codemods.edits import FileEdits
from migrate.codemods.spec import StepSpec
from migrate.scan.apps import AppSite, Issuer

STEP = StepSpec(
    "install-runtime",
    "serve JWKS, introspection and RFC 9728 metadata; fix the 401 challenge",
    phases=("hybrid",),
    consumes=("app",),
    edits_code=True,
    runtime=True,
    installs=True,
)


def install_statement(app: AppSite, issuer: Issuer) -> cst.SimpleStatementLine:
    flask = app.framework == "flask"
    method = runtime_api.INSTALL_FLASK if flask else runtime_api.INSTALL_STARLETTE
    call = runtime_call(method, cst.Name(app.variable), keyword("issuer", issuer.expression))
    return cst.SimpleStatementLine([cst.Expr(call)])


def _bound(
    returned: cst.SimpleStatementLine,
    call: cst.Call,
    variable: str,
    install: cst.SimpleStatementLine,
) -> list[cst.CSTNode]:
    """``return Starlette(...)`` -> ``app = Starlette(...)``, the install, ``return app``
    (the return's comments and blank lines stay in front)."""
    name = cst.Name(variable)
    assign = cst.SimpleStatementLine(
        [cst.Assign([cst.AssignTarget(name)], call)], leading_lines=returned.leading_lines
    )
    trailing = returned.trailing_whitespace
    done = cst.SimpleStatementLine([cst.Return(name)], trailing_whitespace=trailing)
    return [assign, install, done]


def install_runtime(app: AppSite, issuer: Issuer) -> FileEdits:
    edits = FileEdits()
    if app.migrated:
        return edits
    statement = install_statement(app, issuer)
    if not app.before and isinstance(app.anchor, cst.FunctionDef | cst.ClassDef):
        # After a decorated route (``@app.get``): the blank lines PEP 8 asks for.
        blank = 2 if app.anchor in app.source.module.body else 1
        statement = statement.with_changes(leading_lines=[cst.EmptyLine()] * blank)

    def insert(node: cst.CSTNode) -> cst.FlattenSentinel[cst.CSTNode]:
        if app.bind is not None and isinstance(node, cst.SimpleStatementLine):
            return cst.FlattenSentinel(_bound(node, app.bind, app.variable, statement))
        return cst.FlattenSentinel([statement, node] if app.before else [node, statement])

    edits.add(app.anchor, insert)
    edits.imports += [f"from {module} import {name}" for module, name in issuer.imports]
    return edits
