"""`migrate keys`: the key folder's life cycle from the command line, on real files."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from click.testing import CliRunner, Result

from migrate.cli import cli

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def run(keys_dir: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["keys", args[0], "--keys-dir", str(keys_dir), *args[1:]])


def test_generate_writes_a_private_file_readable_by_owner_only(tmp_path: Path) -> None:
    """`keys generate` writes one PEM file of mode 0600 named by the key's kid."""
    result = run(tmp_path / "keys", "generate")
    assert result.exit_code == 0, result.output
    pems = list((tmp_path / "keys").glob("*.pem"))
    assert len(pems) == 1
    assert stat.S_IMODE(pems[0].stat().st_mode) == 0o600
    assert pems[0].stem in result.output


def test_generate_refuses_an_existing_folder(tmp_path: Path) -> None:
    """A second `keys generate` refuses in one line rather than replacing the key."""
    run(tmp_path, "generate")
    result = run(tmp_path, "generate")
    assert result.exit_code == 1
    assert "keys exist already" in result.output
    assert "Traceback" not in result.output


def test_jwks_prints_public_members_only(tmp_path: Path) -> None:
    """`keys jwks` prints RS256 signing keys without any private member."""
    run(tmp_path, "generate")
    result = run(tmp_path, "jwks")
    keys = json.loads(result.output)["keys"]
    assert [k["alg"] for k in keys] == ["RS256"]
    assert not PRIVATE_MEMBERS & set(keys[0])


def test_rotate_then_promote_publishes_both_keys(tmp_path: Path) -> None:
    """After rotate and promote, the new key is active and the old one retiring."""
    run(tmp_path, "generate")
    run(tmp_path, "rotate")
    run(tmp_path, "promote")
    states = sorted(line.split()[1] for line in run(tmp_path, "list").output.splitlines())
    assert states == ["active", "retiring"]


def test_retire_refuses_while_tokens_may_live(tmp_path: Path) -> None:
    """`keys retire` right after a promote refuses and names the earliest time."""
    run(tmp_path, "generate")
    run(tmp_path, "rotate")
    run(tmp_path, "promote")
    result = run(tmp_path, "retire")
    assert result.exit_code == 1
    assert "not before" in result.output


def test_retire_force_drops_the_retiring_key(tmp_path: Path) -> None:
    """`keys retire --force` removes the retiring key and its file."""
    run(tmp_path, "generate")
    run(tmp_path, "rotate")
    run(tmp_path, "promote")
    assert run(tmp_path, "retire", "--force").exit_code == 0
    assert len(list(tmp_path.glob("*.pem"))) == 1
    assert [line.split()[1] for line in run(tmp_path, "list").output.splitlines()] == ["active"]


def test_list_without_keys_says_what_to_do(tmp_path: Path) -> None:
    """`keys list` on an empty folder tells the user to generate keys, exit 1."""
    result = run(tmp_path / "none", "list")
    assert result.exit_code == 1
    assert "migrate keys generate" in result.output
