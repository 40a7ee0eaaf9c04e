"""find_gates: the one lookup that turns the bearer token into a record, or why not."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrate.scan.gates import BearerGate, find_gates
from tests.migrate.codemods.cases import code, source_tree

GROUP = "hybrid_gate"


def _gate(case: str, root: Path) -> BearerGate:
    gates, manual = find_gates(source_tree(GROUP, case, root))
    assert manual == []
    assert len(gates) == 1
    return gates[0]


@pytest.mark.parametrize(
    ("case", "function", "lookup", "token"),
    [
        ("middleware_call", "dispatch", "lookup_token(token)", "token"),
        ("middleware_dict_get", "dispatch", "ACTIVE_TOKENS.get(token)", "token"),
        ("asgi_middleware", "__call__", "SESSIONS.get(token)", "token"),
        ("cleaned_token", "dispatch", "self.store.resolve(token.strip())", "token.strip()"),
        (
            "fastapi_dependency",
            "current_token",
            "store.find(creds.credentials)",
            "creds.credentials",
        ),
        (
            "flask_decorator_sql",
            "wrapped",
            'get_db().execute("SELECT user, scope FROM tokens WHERE token = ?", (auth[7:],))'
            ".fetchone()",
            "auth[7:]",
        ),
    ],
)
def test_lookup_and_token_argument(
    case: str, function: str, lookup: str, token: str, tmp_path: Path
) -> None:
    """The innermost bearer-handling function is the gate; its lookup and token are isolated."""
    gate = _gate(case, tmp_path)
    assert gate.function.name.value == function
    assert gate.lookup is not None
    assert (code(gate.lookup.expression), code(gate.lookup.argument)) == (lookup, token)


def test_caught_key_error_is_the_unknown_answer(tmp_path: Path) -> None:
    """A subscript under ``try``/``except KeyError`` reports KeyError as its unknown answer."""
    lookup = _gate("subscript_key_error", tmp_path).lookup
    assert lookup is not None and lookup.raises == "KeyError"


def test_awaited_lookup_finds_token_in_named_parameters(tmp_path: Path) -> None:
    """An awaited lookup is marked so; the token is found inside ``{"token": token}``."""
    lookup = _gate("fastapi_awaited", tmp_path).lookup
    assert lookup is not None and lookup.awaited
    assert code(lookup.argument) == "token"


def test_two_statement_sql_lookup_is_merged(tmp_path: Path) -> None:
    """``cur = db.execute(...)`` then ``row = cur.fetchone()`` is one lookup of ``row``."""
    lookup = _gate("flask_decorator_cursor", tmp_path).lookup
    assert lookup is not None and lookup.cursor is not None
    assert lookup.target.value == "row"
    assert code(lookup.expression).endswith("(token,)).fetchone()")


@pytest.mark.parametrize(
    ("case", "accessors"),
    [
        ("flask_decorator_cursor", {"db": "get_db()"}),
        ("accessor_keyword", {"db": 'current_app.config["TOKEN_DB"]'}),
    ],
)
def test_accessor_locals_are_recorded(case: str, accessors: dict[str, str], tmp_path: Path) -> None:
    """Locals the lookup reads that are cheap accessors are recorded to be read afresh."""
    lookup = _gate(case, tmp_path).lookup
    assert lookup is not None
    assert {name: code(value) for name, value in lookup.accessors.items()} == accessors


def test_helper_returning_the_token_feeds_the_gates(tmp_path: Path) -> None:
    """A token from ``bearer_token(request)`` or ``Depends(bearer_token)`` is the bearer token."""
    gates, manual = find_gates(source_tree(GROUP, "token_from_helper", tmp_path))
    assert [(g.function.name.value, g.where) for g in gates] == [
        ("sse_guard", "token_from_helper.py:24")
    ]
    assert [m.where for m in manual] == ["token_from_helper.py:16"]
    assert "current_user()" in manual[0].expected


def test_basic_auth_is_not_a_gate(tmp_path: Path) -> None:
    """Reading Authorization for HTTP Basic gives neither a gate nor a manual step."""
    assert find_gates(source_tree(GROUP, "basic_auth_only", tmp_path)) == ([], [])


def test_client_lookup_under_basic_auth_is_not_a_gate(tmp_path: Path) -> None:
    """``CLIENTS.get(auth.username)`` under ``request.authorization`` is no token lookup."""
    assert find_gates(source_tree(GROUP, "token_endpoint_basic", tmp_path)) == ([], [])


def test_membership_test_is_a_located_manual_step(tmp_path: Path) -> None:
    """``if token not in VALID_TOKENS`` is reported at its line with what to write by hand."""
    gates, manual = find_gates(source_tree(GROUP, "token_in_set", tmp_path))
    assert gates == []
    assert [m.where for m in manual] == ["token_in_set.py:8"]
    assert manual[0].expected.startswith("a bearer-token lookup in check_bearer() bound to")
    assert manual[0].expected.endswith("found `token not in VALID_TOKENS`")
    assert "oauth_migration.resolve(token, legacy=lambda t:" in manual[0].how_to


def test_untested_positional_lookup_is_a_located_manual_step(tmp_path: Path) -> None:
    """A lookup read by position and never tested is reported at its line."""
    gates, manual = find_gates(source_tree(GROUP, "positional_row", tmp_path))
    assert gates == []
    assert [m.where for m in manual] == ["positional_row.py:10"]
    assert "require_bearer()" in manual[0].expected


@pytest.mark.parametrize("case", ["middleware_call", "flask_decorator_cursor", "fastapi_awaited"])
def test_gate_calling_the_runtime_is_migrated(case: str, tmp_path: Path) -> None:
    """After the codemod the gate is found again as migrated, with no lookup left to wrap."""
    gates, manual = find_gates(source_tree(GROUP, case, tmp_path, applied=True))
    assert [(g.migrated, g.lookup) for g in gates] == [(True, None)]
    assert manual == []
