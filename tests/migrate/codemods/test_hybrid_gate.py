"""hybrid-gate: the legacy gate's token lookup becomes ``oauth_migration.resolve(...)``."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_snapshot.plugin import Snapshot

from tests.migrate.codemods.cases import (
    check_rewrite,
    manual_in,
    plan_case,
    rewritten,
    second_run,
)

GROUP = "hybrid_gate"
REWRITES = (
    "middleware_call",
    "middleware_dict_get",
    "asgi_middleware",
    "cleaned_token",
    "subscript_key_error",
    "fastapi_dependency",
    "fastapi_awaited",
    "flask_decorator_sql",
    "flask_decorator_cursor",
    "flask_before_request",
    "accessor_keyword",
    "token_from_helper",
    "fastapi_annotated_depends",
    "flask_g_connection",
    "credentials_to_helper",
    "aliases_from_another_module",
)


def test_middleware_function_call(tmp_path: Path, snapshot: Snapshot) -> None:
    """A ``BaseHTTPMiddleware.dispatch`` calling a lookup function gets the lookup wrapped."""
    check_rewrite(snapshot, GROUP, "middleware_call", tmp_path)


def test_middleware_dict_get(tmp_path: Path, snapshot: Snapshot) -> None:
    """A dict ``.get`` of the token is the lookup, tested with ``if not``."""
    check_rewrite(snapshot, GROUP, "middleware_dict_get", tmp_path)


def test_pure_asgi_middleware(tmp_path: Path, snapshot: Snapshot) -> None:
    """A pure ASGI middleware reading ``b"authorization"`` from the scope is a gate too."""
    check_rewrite(snapshot, GROUP, "asgi_middleware", tmp_path)


def test_cleaned_token_is_passed_as_cleaned(tmp_path: Path, snapshot: Snapshot) -> None:
    """``resolve`` gets the same ``token.strip()`` the lookup used, the lambda its parameter."""
    check_rewrite(snapshot, GROUP, "cleaned_token", tmp_path)


def test_subscript_inside_try_key_error(tmp_path: Path, snapshot: Snapshot) -> None:
    """A subscript lookup under ``except KeyError`` keeps raising it: ``unknown=KeyError``."""
    check_rewrite(snapshot, GROUP, "subscript_key_error", tmp_path)


def test_fastapi_dependency_with_http_bearer(tmp_path: Path, snapshot: Snapshot) -> None:
    """A ``Depends(HTTPBearer)`` dependency looking up ``creds.credentials`` is wrapped."""
    check_rewrite(snapshot, GROUP, "fastapi_dependency", tmp_path)


def test_awaited_lookup_with_named_sql_parameter(tmp_path: Path, snapshot: Snapshot) -> None:
    """An awaited lookup uses ``await resolve_async``; the token is found in a dict of params."""
    check_rewrite(snapshot, GROUP, "fastapi_awaited", tmp_path)


def test_flask_decorator_sql_in_one_statement(tmp_path: Path, snapshot: Snapshot) -> None:
    """``db.execute(SELECT ..., (token,)).fetchone()`` in one statement is one lookup."""
    check_rewrite(snapshot, GROUP, "flask_decorator_sql", tmp_path)


def test_flask_decorator_sql_in_two_statements(tmp_path: Path, snapshot: Snapshot) -> None:
    """A cursor then ``fetchone()`` become one call, the accessor inlined, comments kept."""
    check_rewrite(snapshot, GROUP, "flask_decorator_cursor", tmp_path)


def test_flask_before_request_hook(tmp_path: Path, snapshot: Snapshot) -> None:
    """A ``before_request`` hook's multi-line SQL lookup is wrapped in place."""
    check_rewrite(snapshot, GROUP, "flask_before_request", tmp_path)


def test_accessor_passed_by_keyword(tmp_path: Path, snapshot: Snapshot) -> None:
    """An accessor local passed as ``db=db`` is inlined as the value, never as the keyword."""
    check_rewrite(snapshot, GROUP, "accessor_keyword", tmp_path)


def test_token_given_by_a_helper(tmp_path: Path, snapshot: Snapshot) -> None:
    """A token from a helper that reads the header is wrapped; a conditional lookup is manual."""
    plan = check_rewrite(snapshot, GROUP, "token_from_helper", tmp_path)
    assert [m.where for m in manual_in(plan, "token_from_helper.py")] == ["token_from_helper.py:16"]


def test_annotated_dependencies_and_a_hashed_key(tmp_path: Path, snapshot: Snapshot) -> None:
    """The gate fed by an ``Annotated`` extractor dependency is wrapped (not the extractor);
    the runtime gets the token, not its digest; the lookup reads the request's connection
    in the request and opens its own outside it (never the one the request closed)."""
    plan = check_rewrite(snapshot, GROUP, "fastapi_annotated_depends", tmp_path)
    new = rewritten(plan)["fastapi_annotated_depends.py"]
    assert "resolve(token, legacy=oauth_migration.request_lookup(lambda t, db: db.execute(" in new
    assert "db=(db, Connection)" in new  # the alias names get_db
    assert "(digest(t),)" in new
    assert "def bearer_token(creds" in new and new.count("oauth_migration.resolve(") == 1


def test_credentials_handed_to_a_loader_wrap_the_loaders_lookup(
    tmp_path: Path, snapshot: Snapshot
) -> None:
    """``load_session(credentials)`` gets the credentials object: the lookup wrapped is the
    loader's ``SESSIONS.get(credentials.credentials)``, so the runtime gets the token (the
    call site wrapped would hand it the object: no JWT recognised, introspection broken)."""
    plan = check_rewrite(snapshot, GROUP, "credentials_to_helper", tmp_path)
    new = rewritten(plan)["credentials_to_helper.py"]
    assert (
        "return oauth_migration.resolve(credentials.credentials, legacy=lambda t: SESSIONS.get(t))"
        in new
    )
    assert "session = load_session(credentials)" in new


def test_aliases_imported_from_another_module(tmp_path: Path, snapshot: Snapshot) -> None:
    """``token: Token, db: Db`` with both ``Annotated`` aliases imported: the token is the
    extractor's, and outside the request the connection is opened through the alias the
    gate's module names (``get_db`` itself is not imported there)."""
    plan = check_rewrite(snapshot, GROUP, "aliases_from_another_module", tmp_path)
    new = rewritten(plan)["app/auth.py"]
    assert "resolve(token, legacy=oauth_migration.request_lookup(lambda t, db: db.execute(" in new
    assert "db=(db, Db)" in new


def test_flask_g_connection_is_read_again(tmp_path: Path, snapshot: Snapshot) -> None:
    """A connection kept on Flask's ``g`` is fetched again by the lookup (``get_db()``), in
    whatever app context the lookup runs, never the one the first request closed."""
    plan = check_rewrite(snapshot, GROUP, "flask_g_connection", tmp_path)
    assert "legacy=lambda t: get_db().execute(" in rewritten(plan)["flask_g_connection.py"]


def test_dependency_needing_the_request_is_manual(tmp_path: Path) -> None:
    """A generator dependency that needs the request cannot be opened by introspection:
    nothing is rewritten and the lookup's line is a manual step naming the dependency."""
    plan = plan_case(GROUP, "dependency_with_request", tmp_path)
    assert rewritten(plan) == {}
    steps = manual_in(plan, "dependency_with_request.py")
    assert [m.where for m in steps] == ["dependency_with_request.py:21"]
    assert "Depends(get_session)" in steps[0].expected
    assert steps[0].blocks_apply and plan.blocked_by


def test_basic_auth_is_not_a_bearer_gate(tmp_path: Path) -> None:
    """A function reading Authorization for HTTP Basic only is neither changed nor reported."""
    plan = plan_case(GROUP, "basic_auth_only", tmp_path)
    assert rewritten(plan) == {}
    assert manual_in(plan, "basic_auth_only.py") == []


def test_token_endpoint_client_lookup_is_not_a_gate(tmp_path: Path) -> None:
    """A token endpoint looking its Basic-authenticated client up is left alone."""
    plan = plan_case(GROUP, "token_endpoint_basic", tmp_path)
    assert rewritten(plan) == {}
    assert manual_in(plan, "token_endpoint_basic.py") == []


@pytest.mark.parametrize(
    ("case", "line"),
    [("token_in_set", 8), ("positional_row", 10), ("walrus_lookup", 8)],
    ids=["in-set", "row[0]", "walrus"],
)
def test_lookup_that_cannot_be_wrapped_is_manual(case: str, line: int, tmp_path: Path) -> None:
    """A membership test, an untested ``row[0]`` or a walrus lookup is left alone, reported."""
    plan = plan_case(GROUP, case, tmp_path)
    assert rewritten(plan) == {}
    assert [m.where for m in manual_in(plan, f"{case}.py")] == [f"{case}.py:{line}"]


@pytest.mark.parametrize("case", REWRITES)
def test_second_run_changes_nothing(case: str, tmp_path: Path) -> None:
    """Planning hybrid-gate again on its own output changes nothing."""
    assert rewritten(second_run(GROUP, case, tmp_path)) == {}
