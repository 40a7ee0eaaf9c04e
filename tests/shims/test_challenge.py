"""fix_challenge: what a legacy Bearer challenge becomes after the install."""

from __future__ import annotations

from shims.discovery import fix_challenge

PRM = "https://mcp.example.test/.well-known/oauth-protected-resource/mcp"


def test_bare_bearer_gains_resource_metadata() -> None:
    """`Bearer realm="x"` keeps its realm and gains the metadata URL."""
    assert fix_challenge('Bearer realm="x"', PRM, False) == (
        f'Bearer realm="x", resource_metadata="{PRM}"'
    )


def test_missing_header_becomes_a_bearer_challenge() -> None:
    """A 401 without any challenge gets a Bearer one."""
    assert fix_challenge(None, PRM, False) == f'Bearer resource_metadata="{PRM}"'


def test_presented_token_gets_invalid_token() -> None:
    """When a token was presented and refused, the challenge says invalid_token."""
    assert fix_challenge("Bearer", PRM, True).startswith('Bearer error="invalid_token", ')


def test_invalid_grant_becomes_invalid_token() -> None:
    """invalid_grant (a token-endpoint code) is replaced by invalid_token at the resource."""
    fixed = fix_challenge('Bearer error="invalid_grant"', PRM, True)
    assert 'error="invalid_token"' in fixed
    assert "invalid_grant" not in fixed


def test_existing_resource_metadata_is_kept() -> None:
    """A challenge that already names its metadata is left as it was."""
    legacy = f'Bearer error="invalid_token", resource_metadata="{PRM}"'
    assert fix_challenge(legacy, "https://other.test/prm", True) == legacy


def test_basic_challenge_is_left_alone() -> None:
    """Other schemes are not touched."""
    assert fix_challenge('Basic realm="token"', PRM, True) == 'Basic realm="token"'
