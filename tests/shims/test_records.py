"""Records built from claims (record_factory, ClaimRecord) and reading legacy records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from shims.gate import field_of
from shims.introspection import describe_legacy_record
from shims.records import ClaimRecord, field_getter, record_factory
from shims.verifier import VerifiedToken

CLAIMS = {
    "iss": "https://auth.example.test",
    "sub": "user-1",
    "aud": "https://mcp.example.test/mcp",
    "client_id": "client-1",
    "scope": "read write",
    "iat": 1_700_000_000,
    "exp": 2_000_000_000,
    "jti": "jti-1",
}


@pytest.fixture
def verified() -> VerifiedToken:
    return VerifiedToken(
        "the.token.text", dict(CLAIMS), "kid", 2_000_000_000, "jti-1", "client-1", "user-1"
    )


def test_claim_record_reads_as_attributes_and_items() -> None:
    """A ClaimRecord answers the same value through attribute and item access."""
    record = ClaimRecord(user_id="u", scopes=["a"])
    assert record.user_id == record["user_id"] == "u"
    assert record.scopes == record["scopes"] == ["a"]


def test_claim_record_missing_field_is_attribute_error() -> None:
    """A missing field raises AttributeError, so getattr(record, name, default) works."""
    record = ClaimRecord(user_id="u")
    with pytest.raises(AttributeError):
        _ = record.nothing
    assert getattr(record, "nothing", "default") == "default"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("sub", "user-1"),
        ("exp:int", 2_000_000_000),
        ("exp:float", 2_000_000_000.0),
        ("iat:str", "1700000000"),
        ("scope:list", ["read", "write"]),
        ("exp:iso8601", "2033-05-18T03:33:20+00:00"),
        ("exp:datetime", datetime(2033, 5, 18, 3, 33, 20, tzinfo=UTC)),
        ("=False", False),
        ("=None", None),
        ("=0", 0),
        ("=''", ""),
        ("token", "the.token.text"),
        ("nbf", None),
        ("nbf:iso8601", None),
    ],
)
def test_field_specs(verified: VerifiedToken, spec: str, expected: Any) -> None:
    """Each field spec reads its claim with the named type, a constant, or the token."""
    assert field_getter(spec)(verified) == expected


def test_scope_list_from_a_list_claim(verified: VerifiedToken) -> None:
    """scope:list also accepts a claim that already is a list."""
    verified.claims["scope"] = ["a", "b"]
    assert field_getter("scope:list")(verified) == ["a", "b"]


def test_unknown_field_type_is_refused() -> None:
    """An unknown type in a field spec is a ValueError at build time, not per request."""
    with pytest.raises(ValueError, match="unknown field type"):
        field_getter("exp:timestamp")


@dataclass
class AccessToken:
    user_id: str
    scopes: list[str]
    expires_at: str
    revoked: bool


def test_record_factory_builds_the_class(verified: VerifiedToken) -> None:
    """record_factory(cls=...) calls the class with the converted fields."""
    to_record = record_factory(
        {
            "user_id": "sub",
            "scopes": "scope:list",
            "expires_at": "exp:iso8601",
            "revoked": "=False",
        },
        cls=AccessToken,
    )
    assert to_record(verified) == AccessToken(
        "user-1", ["read", "write"], "2033-05-18T03:33:20+00:00", False
    )


def test_record_factory_default_is_a_claim_record(verified: VerifiedToken) -> None:
    """Without cls, record_factory builds a ClaimRecord."""
    record = record_factory({"user_id": "sub"})(verified)
    assert isinstance(record, ClaimRecord)
    assert record == {"user_id": "user-1"}


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (SimpleNamespace(client_id="from-attr"), "from-attr"),
        ({"client_id": "from-item"}, "from-item"),
        (ClaimRecord(client_id="both"), "both"),
        ({"other": 1}, None),
        (("tuple",), None),
        ("a string", None),
        (None, None),
    ],
)
def test_field_of_reads_attributes_or_items(record: Any, expected: Any) -> None:
    """field_of reads an attribute, else an item, else gives None (never raises)."""
    assert field_of(record, "client_id") == expected


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (
            {"user_id": "u", "client": "c", "scopes": ["a", "b"], "expires_at": 4102444800},
            {"sub": "u", "client_id": "c", "scope": "a b", "exp": 4102444800, "iat": None},
        ),
        (
            SimpleNamespace(
                username="u", client_id="c", scope="a  b", expiry="2100-01-01T00:00:00+00:00"
            ),
            {"sub": "u", "client_id": "c", "scope": "a b", "exp": 4102444800, "iat": None},
        ),
        (
            {"subject": "u", "expires": datetime(2100, 1, 1, tzinfo=UTC)},
            {"sub": "u", "client_id": None, "scope": None, "exp": 4102444800, "iat": None},
        ),
        (
            {"sub": "u", "exp": True},
            {"sub": "u", "client_id": None, "scope": None, "exp": None, "iat": None},
        ),
        (
            {"sub": "u", "exp": "not a date"},
            {"sub": "u", "client_id": None, "scope": None, "exp": None, "iat": None},
        ),
    ],
)
def test_describe_legacy_record(record: Any, expected: dict[str, Any]) -> None:
    """The introspection fallback reads the usual legacy field names and time formats."""
    assert describe_legacy_record(record) == expected
