"""#12 item 9: a server whose access tokens are already self-contained is told so.

The plan names the signed mint, writes nothing (exit 0), does not wrap the metadata
(the kit's JWKS could not verify those tokens) and says what would still be worth adding.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from migrate.cli import cli
from migrate.outcome import plan_exit
from migrate.planner import plan_hybrid
from tests.migrate.scan.test_token_flow import SIGNED

METADATA = """

def metadata():
    return {
        "issuer": "https://as.example",
        "authorization_endpoint": "https://as.example/authorize",
        "token_endpoint": "https://as.example/token",
    }
"""


def _server(root: Path, mint: str) -> Path:
    (root / "app.py").write_text(mint + METADATA, encoding="utf-8")
    (root / "requirements.txt").write_text("starlette\n", encoding="utf-8")
    return root


@pytest.mark.parametrize("case", sorted(SIGNED))
def test_the_plan_says_there_is_no_opaque_token_and_writes_nothing(
    case: str, tmp_path: Path
) -> None:
    """No change, no step, exit 0; the mint is a finding and the note lists what is left."""
    plan = plan_hybrid(_server(tmp_path, SIGNED[case]))
    assert plan.changes == [] and plan.steps == [] and plan.manual == []
    assert int(plan_exit(plan)) == 0
    [mint] = [f for f in plan.findings if f.kind == "mint"]
    assert "already self-contained" in mint.detail and "no opaque token" in mint.detail
    [note] = [n for n in plan.notes if n.startswith("Access tokens are already self-contained")]
    assert "RFC 7662 introspection" in note and "RFC 9728" in note
    assert "must never be published" in note  # every case signs with a shared secret


def test_an_asymmetric_signer_would_get_a_jwks(tmp_path: Path) -> None:
    """An RS256 ``jwt.encode``: the note says a JWKS of its public key is still to add."""
    mint = SIGNED["pyjwt"].replace('algorithm="HS256"', 'algorithm="RS256"')
    plan = plan_hybrid(_server(tmp_path, mint))
    [note] = [n for n in plan.notes if n.startswith("Access tokens are already self-contained")]
    assert "a JWKS (RFC 7517) of the signing key's public half" in note


def test_apply_writes_nothing_and_says_why(tmp_path: Path) -> None:
    """`migrate apply` on such a tree leaves every file as it was and exits 0."""
    root = _server(tmp_path, SIGNED["hmac"])
    before = sorted(p.name for p in root.iterdir())
    result = CliRunner().invoke(cli, ["apply", "--yes", "--allow-dirty", str(root)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("nothing to apply: Access tokens are already self-contained")
    assert sorted(p.name for p in root.iterdir()) == before


def test_an_opaque_mint_beside_a_signed_one_is_still_migrated(tmp_path: Path) -> None:
    """A second token endpoint minting opaque tokens: the tree is migrated as before."""
    opaque = """

import secrets

TOKENS = {}


def legacy_token(user_id, client_id, scope):
    value = secrets.token_urlsafe(32)
    TOKENS[value] = {"user_id": user_id, "client_id": client_id, "scope": scope}
    return {"access_token": value}
"""
    plan = plan_hybrid(_server(tmp_path, SIGNED["pyjwt"] + opaque))
    assert "mint-jwt" in [s.id for s in plan.steps]
    assert not any(n.startswith("Access tokens are already self-contained") for n in plan.notes)
