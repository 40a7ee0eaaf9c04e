"""mint-jwt: the expression that made an opaque access token mints an RFC 9068 JWT."""

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

GROUP = "mint_jwt"
REWRITES = (
    "token_urlsafe",
    "token_hex_prefix",
    "token_bytes_hex",
    "urandom_base64",
    "urandom_hex",
    "urandom_binascii",
    "uuid4_hex",
    "from_uuid_import",
    "from_secrets_import",
    "fstring_prefix",
    "codes_secrets_refresh",
    "flows_to_response_key",
    "inline_constructor",
    "inline_response_key",
    "record_keywords",
    "record_dict_literal",
    "record_dict_subscript",
    "record_sql_insert",
    "helper_shared_with_refresh",
)


def test_token_urlsafe(tmp_path: Path, snapshot: Snapshot) -> None:
    """``secrets.token_urlsafe`` is replaced; the refresh token beside it is not."""
    check_rewrite(snapshot, GROUP, "token_urlsafe", tmp_path)


def test_token_hex_with_prefix(tmp_path: Path, snapshot: Snapshot) -> None:
    """The whole ``"at_" + token_hex(...)`` goes, with the resource claim from a parameter."""
    check_rewrite(snapshot, GROUP, "token_hex_prefix", tmp_path)


def test_token_bytes_hex_in_method(tmp_path: Path, snapshot: Snapshot) -> None:
    """``token_bytes(...).hex()`` in a method is replaced, ``self`` not taken for a claim."""
    check_rewrite(snapshot, GROUP, "token_bytes_hex", tmp_path)


def test_urandom_base64_with_prefix(tmp_path: Path, snapshot: Snapshot) -> None:
    """A prefixed, base64-encoded ``os.urandom`` is replaced up to its ``.decode()``."""
    check_rewrite(snapshot, GROUP, "urandom_base64", tmp_path)


def test_urandom_hex(tmp_path: Path, snapshot: Snapshot) -> None:
    """``os.urandom(n).hex()`` is replaced; the SQL INSERT that stores it stays as it is."""
    check_rewrite(snapshot, GROUP, "urandom_hex", tmp_path)


def test_urandom_binascii(tmp_path: Path, snapshot: Snapshot) -> None:
    """``binascii.hexlify(os.urandom(n)).decode()`` is replaced; the base32 refresh is not."""
    check_rewrite(snapshot, GROUP, "urandom_binascii", tmp_path)


def test_uuid4_hex(tmp_path: Path, snapshot: Snapshot) -> None:
    """``uuid.uuid4().hex`` bound to ``access_token`` is replaced; the refresh one is not."""
    check_rewrite(snapshot, GROUP, "uuid4_hex", tmp_path)


def test_from_uuid_import_uuid4(tmp_path: Path, snapshot: Snapshot) -> None:
    """``uuid4().hex + uuid4().hex`` after ``from uuid import uuid4`` is one mint."""
    check_rewrite(snapshot, GROUP, "from_uuid_import", tmp_path)


def test_from_secrets_import_with_alias(tmp_path: Path, snapshot: Snapshot) -> None:
    """An aliased ``token_urlsafe`` is recognised; claims come from locals bound before it."""
    check_rewrite(snapshot, GROUP, "from_secrets_import", tmp_path)


def test_fstring_prefix(tmp_path: Path, snapshot: Snapshot) -> None:
    """An f-string around the primitive is replaced whole."""
    check_rewrite(snapshot, GROUP, "fstring_prefix", tmp_path)


def test_codes_secrets_and_refresh_stay(tmp_path: Path, snapshot: Snapshot) -> None:
    """Client ids, client secrets, codes, refresh and CSRF tokens minted alike stay opaque."""
    check_rewrite(snapshot, GROUP, "codes_secrets_refresh", tmp_path)


def test_mint_told_apart_by_response_key(tmp_path: Path, snapshot: Snapshot) -> None:
    """A mint with an uninformative name is the access token when it flows to ``access_token``."""
    check_rewrite(snapshot, GROUP, "flows_to_response_key", tmp_path)


def test_mint_inline_in_constructor(tmp_path: Path, snapshot: Snapshot) -> None:
    """A mint passed to a constructor labelled ``"access"`` is replaced inside the call."""
    check_rewrite(snapshot, GROUP, "inline_constructor", tmp_path)


def test_mint_inline_as_response_keyword(tmp_path: Path, snapshot: Snapshot) -> None:
    """A mint given as ``access_token=`` to a response helper is replaced in place."""
    check_rewrite(snapshot, GROUP, "inline_response_key", tmp_path)


def test_claims_from_record_keywords(tmp_path: Path, snapshot: Snapshot) -> None:
    """Claims come from the record's keywords (``owner_id=``, ``client=``) when names don't fit."""
    check_rewrite(snapshot, GROUP, "record_keywords", tmp_path)


def test_claims_from_record_dict_holding_the_token(tmp_path: Path, snapshot: Snapshot) -> None:
    """Claims come from a record dict literal that holds the token."""
    check_rewrite(snapshot, GROUP, "record_dict_literal", tmp_path)


def test_claims_from_record_dict_keyed_by_the_token(tmp_path: Path, snapshot: Snapshot) -> None:
    """Claims come from a dict literal stored under the token (``TOKENS[token] = {...}``)."""
    check_rewrite(snapshot, GROUP, "record_dict_subscript", tmp_path)


def test_claims_from_sql_insert_columns(tmp_path: Path, snapshot: Snapshot) -> None:
    """Claims come from the values matching an SQL INSERT's named columns."""
    check_rewrite(snapshot, GROUP, "record_sql_insert", tmp_path)


def test_helper_shared_with_refresh_is_rewritten_at_the_access_call(
    tmp_path: Path, snapshot: Snapshot
) -> None:
    """A random helper in another module (prefix, method chain) that also makes refresh
    tokens and client secrets is rewritten where its result goes to ``access_token``
    only: the helper, the refresh token and the client secret stay as they are."""
    plan = check_rewrite(snapshot, GROUP, "helper_shared_with_refresh", tmp_path)
    assert list(rewritten(plan)) == ["issuer/endpoints.py"]
    after = rewritten(plan)["issuer/endpoints.py"]
    assert 'renewal = opaque("rt_", 48)' in after and 'opaque("cs_", 24)' in after


def test_noop_helper_making_client_secrets_only(tmp_path: Path) -> None:
    """A random helper whose results are client ids and secrets: no edit, no step."""
    plan = plan_case(GROUP, "noop_helper_client_secrets_only", tmp_path)
    assert rewritten(plan) == {}
    assert manual_in(plan, "noop_helper_client_secrets_only.py") == []


def test_noop_self_contained_tokens(tmp_path: Path) -> None:
    """An access token from ``jwt.encode`` is no opaque mint: no edit, no mint step."""
    plan = plan_case(GROUP, "noop_self_contained", tmp_path)
    assert rewritten(plan) == {}
    assert manual_in(plan, "noop_self_contained.py") == []


def test_missing_claim_names_is_manual(tmp_path: Path) -> None:
    """Without names for the subject, client and scope, the mint stays and a step says so."""
    plan = plan_case(GROUP, "names_missing", tmp_path)
    assert rewritten(plan) == {}
    assert [m.where for m in manual_in(plan, "names_missing.py")] == ["names_missing.py:7"]


def test_two_access_mints_in_one_function_are_manual(tmp_path: Path) -> None:
    """Two access mints in one function are both left alone and both reported."""
    plan = plan_case(GROUP, "two_access_mints", tmp_path)
    assert rewritten(plan) == {}
    assert sorted(m.where for m in manual_in(plan, "two_access_mints.py")) == [
        "two_access_mints.py:6",
        "two_access_mints.py:8",
    ]


def test_csrf_tokens_and_api_keys_are_not_access_tokens(tmp_path: Path) -> None:
    """A file minting only CSRF tokens and keys is neither changed nor reported."""
    plan = plan_case(GROUP, "csrf_only", tmp_path)
    assert rewritten(plan) == {}
    assert manual_in(plan, "csrf_only.py") == []


@pytest.mark.parametrize("case", REWRITES)
def test_second_run_changes_nothing(case: str, tmp_path: Path) -> None:
    """Planning mint-jwt again on its own output changes nothing."""
    assert rewritten(second_run(GROUP, case, tmp_path)) == {}
