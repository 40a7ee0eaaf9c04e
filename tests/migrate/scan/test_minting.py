"""find_mints: the access-token mint among look-alikes, and the names its claims come from."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrate.scan.minting import find_mints
from migrate.scan.source import SourceTree
from tests.migrate.codemods.cases import code, source_tree

GROUP = "mint_jwt"


def _claims(case: str, root: Path) -> dict[str, str]:
    sites, manual = find_mints(source_tree(GROUP, case, root))
    assert manual == []
    assert len(sites) == 1
    return {role: code(value) for role, value in sites[0].claims.items()}


@pytest.mark.parametrize(
    ("case", "claims"),
    [
        (
            "token_hex_prefix",
            {
                "subject": "user",
                "client_id": "client_id",
                "scope": "scopes",
                "resource": "resource",
            },
        ),
        (
            "from_secrets_import",
            {"subject": "user_id", "client_id": "client_id", "scope": "scope"},
        ),
        (
            "record_keywords",
            {"subject": "grant.account.id", "client_id": "grant.app_id", "scope": "grant.scopes"},
        ),
        (
            "record_dict_subscript",
            {"subject": "grant.owner", "client_id": "grant.client", "scope": "grant.scope"},
        ),
        (
            "record_sql_insert",
            {
                "subject": 'grant_row["owner"]',
                "client_id": 'grant_row["client"]',
                "scope": 'grant_row["scope"]',
            },
        ),
    ],
    ids=["parameters", "locals", "record-keywords", "record-dict", "sql-insert"],
)
def test_claims_come_from_names_in_scope(case: str, claims: dict[str, str], tmp_path: Path) -> None:
    """Each claim is a name in scope at the mint, or the value its record write gives it."""
    assert _claims(case, tmp_path) == claims


def test_only_the_access_token_is_a_mint(tmp_path: Path) -> None:
    """Of codes, client ids and secrets, refresh and CSRF tokens, only the access token counts."""
    sites, _ = find_mints(source_tree(GROUP, "codes_secrets_refresh", tmp_path))
    assert [(s.where, s.function.name.value) for s in sites] == [
        ("codes_secrets_refresh.py:26", "token")
    ]


def test_mint_covers_prefix_and_encoding(tmp_path: Path) -> None:
    """The mint is the whole value: prefix, primitive and every encoding call around it."""
    sites, _ = find_mints(source_tree(GROUP, "urandom_base64", tmp_path))
    assert code(sites[0].expression) == (
        '"atk-" + base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()'
    )


def test_csrf_tokens_and_keys_are_not_mints(tmp_path: Path) -> None:
    """CSRF tokens and API keys minted with ``secrets`` are neither mints nor manual steps."""
    assert find_mints(source_tree(GROUP, "csrf_only", tmp_path)) == ([], [])


def test_missing_names_is_a_located_manual_step(tmp_path: Path) -> None:
    """A mint without user, client and scope names says which are missing and what to write."""
    sites, manual = find_mints(source_tree(GROUP, "names_missing", tmp_path))
    assert sites == []
    assert [m.where for m in manual] == ["names_missing.py:7"]
    assert manual[0].expected == (
        "an opaque access token minted in issue_access_token() without names for "
        "subject, client_id, scope in scope"
    )
    assert "replace `secrets.token_urlsafe(32)` with `oauth_migration.mint_access_token(" in (
        manual[0].how_to
    )
    assert "(statement: `access_token = secrets.token_urlsafe(32)`)" in manual[0].how_to


def test_two_access_mints_are_located_manual_steps(tmp_path: Path) -> None:
    """Two access mints in one function are each reported, neither kept as a site."""
    sites, manual = find_mints(source_tree(GROUP, "two_access_mints", tmp_path))
    assert sites == []
    assert sorted((m.where, m.expected) for m in manual) == [
        ("two_access_mints.py:6", "2 access-token mints in token()"),
        ("two_access_mints.py:8", "2 access-token mints in token()"),
    ]


@pytest.mark.parametrize("case", ["token_urlsafe", "inline_constructor", "uuid4_hex"])
def test_minted_jwt_is_migrated(case: str, tmp_path: Path) -> None:
    """After the codemod the mint is found again as migrated, and nothing else is."""
    sites, manual = find_mints(source_tree(GROUP, case, tmp_path, applied=True))
    assert [s.migrated for s in sites] == [True]
    assert manual == []


INSERT_OR_REPLACE = """import secrets
import sqlite3

DB = sqlite3.connect("tokens.db")


def issue(grant):
    access_token = secrets.token_urlsafe(32)
    DB.execute(
        "INSERT OR REPLACE INTO tokens (token, owner, client, scopes) VALUES (?, ?, ?, ?)",
        (access_token, grant.owner_id, grant.app_id, grant.granted),
    )
    return access_token
"""


def test_an_insert_or_replace_gives_the_claims(tmp_path: Path) -> None:
    """The columns of ``INSERT OR REPLACE INTO t (...)`` name the claims, as a plain
    INSERT's do (one SQL reading, migrate.scan.sql, for apply and finalize)."""
    (tmp_path / "issue.py").write_text(INSERT_OR_REPLACE, encoding="utf-8")
    mints, manual = find_mints(SourceTree(tmp_path))
    assert manual == []
    [mint] = mints
    assert {role: code(value) for role, value in mint.claims.items()} == {
        "subject": "grant.owner_id",
        "client_id": "grant.app_id",
        "scope": "grant.granted",
    }


ISSUING_HELPER = """import secrets
import sqlite3

DB = sqlite3.connect("grants.db")


def issue(grant):
    token = secrets.token_urlsafe(32)
    DB.execute(
        "INSERT INTO grants (token, owner, client, scopes) VALUES (?, ?, ?, ?)",
        (token, grant.owner_id, grant.app_id, grant.granted),
    )
    return token
"""

TOKEN_ROUTE = """from starlette.responses import JSONResponse

from .issuing import issue


async def exchange(grant):
    return JSONResponse({{"{key}": issue(grant), "token_type": "Bearer"}})
"""


def _helper_tree(tmp_path: Path, key: str) -> SourceTree:
    package = tmp_path / "svc"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "issuing.py").write_text(ISSUING_HELPER, encoding="utf-8")
    (package / "routes.py").write_text(TOKEN_ROUTE.format(key=key), encoding="utf-8")
    return SourceTree(tmp_path)


def test_a_token_returned_to_the_access_token_member_is_a_mint(tmp_path: Path) -> None:
    """#12: `token = ...; return token` is the access-token mint because a caller in
    another module puts the result under `access_token`; its claims come from the INSERT."""
    mints, manual = find_mints(_helper_tree(tmp_path, "access_token"))
    assert manual == []
    assert [m.where for m in mints] == ["svc/issuing.py:8"]
    assert {r: code(v) for r, v in mints[0].claims.items()} == {
        "subject": "grant.owner_id",
        "client_id": "grant.app_id",
        "scope": "grant.granted",
    }


def test_the_same_helper_feeding_a_refresh_token_is_no_mint(tmp_path: Path) -> None:
    """Followed by its value: a helper whose result is the refresh token is left alone."""
    assert find_mints(_helper_tree(tmp_path, "refresh_token")) == ([], [])
