"""`migrate keys`: the key folder's life cycle from the command line, on real files."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from migrate.cli import cli
from shims.keys import ENV_SIGNING_KEY, KeyRing, generate_private_key, private_pem

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


# -- key hygiene: loose permissions, the environment key, --bits ------------------------


def _generated(tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "keys"
    assert run(folder, "generate").exit_code == 0
    return folder, next(folder.glob("*.pem"))


@pytest.mark.parametrize("command", [["list"], ["jwks"], ["rotate"], ["retire", "--force"]])
def test_keys_a_private_key_file_readable_by_others_is_refused_with_the_chmod(
    tmp_path: Path, command: list[str]
) -> None:
    """A key file readable by group or others is refused, naming the exact chmod to run."""
    folder, pem = _generated(tmp_path)
    pem.chmod(0o644)
    result = run(folder, *command)
    assert result.exit_code == 1, result.output
    assert f"chmod 600 {pem}" in result.output
    assert "Traceback" not in result.output


def test_keys_a_key_folder_readable_by_others_is_refused_with_the_chmod(tmp_path: Path) -> None:
    """A key folder readable by group or others is refused, naming `chmod 700 <folder>`."""
    folder, _ = _generated(tmp_path)
    folder.chmod(0o755)
    result = run(folder, "list")
    assert result.exit_code == 1
    assert f"chmod 700 {folder}" in result.output


@pytest.fixture(scope="module")
def env_pem() -> str:
    return private_pem(generate_private_key()).decode("ascii")


def test_keys_list_shows_the_environment_key_and_says_so(tmp_path: Path, env_pem: str) -> None:
    """With OAUTH_MIGRATE_SIGNING_KEY set, `keys list` shows that key as from the environment."""
    result = CliRunner(env={ENV_SIGNING_KEY: env_pem}).invoke(
        cli, ["keys", "list", "--keys-dir", str(tmp_path / "none")]
    )
    assert result.exit_code == 0, result.output
    kid = KeyRing.from_pem(env_pem).signing_key.kid
    assert kid in result.output
    assert ENV_SIGNING_KEY in result.output
    assert "PRIVATE" not in result.output


def test_keys_jwks_prints_the_environment_key(tmp_path: Path, env_pem: str) -> None:
    """With OAUTH_MIGRATE_SIGNING_KEY set, `keys jwks` prints that key's public JWK."""
    result = CliRunner(env={ENV_SIGNING_KEY: env_pem}).invoke(
        cli, ["keys", "jwks", "--keys-dir", str(tmp_path / "none")]
    )
    assert result.exit_code == 0, result.output
    keys = json.loads(result.stdout)["keys"]
    assert [k["kid"] for k in keys] == [KeyRing.from_pem(env_pem).signing_key.kid]
    assert ENV_SIGNING_KEY in result.stderr


def test_keys_list_reports_a_broken_environment_key(tmp_path: Path) -> None:
    """A garbage OAUTH_MIGRATE_SIGNING_KEY is an error naming it, not the folder's keys."""
    run(tmp_path / "keys", "generate")
    result = CliRunner(env={ENV_SIGNING_KEY: "garbage"}).invoke(
        cli, ["keys", "list", "--keys-dir", str(tmp_path / "keys")]
    )
    assert result.exit_code == 1
    assert ENV_SIGNING_KEY in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", [["generate"], ["rotate"], ["promote"], ["retire"]])
def test_keys_commands_that_write_the_folder_refuse_while_the_env_key_is_set(
    tmp_path: Path, env_pem: str, command: list[str]
) -> None:
    """A command that changes the key folder refuses while the server signs from the env."""
    folder = tmp_path / "keys"
    result = CliRunner(env={ENV_SIGNING_KEY: env_pem}).invoke(
        cli, ["keys", *command, "--keys-dir", str(folder)]
    )
    assert result.exit_code == 1
    assert ENV_SIGNING_KEY in result.output
    assert not folder.exists()


@pytest.mark.parametrize("bits", ["1024", "2047", "8193", "100000"])
def test_keys_bits_out_of_range_is_a_clear_usage_error(tmp_path: Path, bits: str) -> None:
    """`--bits` outside 2048..8192 is refused before any key is generated."""
    result = run(tmp_path / "keys", "generate", "--bits", bits)
    assert result.exit_code != 0
    assert "2048<=x<=8192" in result.output
    assert not (tmp_path / "keys").exists()


def test_retire_waits_the_lifetime_the_migrated_server_uses(tmp_path: Path) -> None:
    """In a migrated tree whose wiring.py says 24-hour tokens, `keys retire` with no
    --max-token-lifetime waits those 24 hours, not the default hour (security review,
    info: retire allowed dropping a key whose tokens were still alive)."""
    import calendar
    import re
    import time

    from tests.migrate.tree_support import copy_sample

    project = copy_sample(tmp_path / "project")
    applied = CliRunner().invoke(cli, ["apply", "--yes", str(project)])
    assert applied.exit_code == 0, applied.output
    wiring = project / "sample_legacy" / "oauth_migration" / "wiring.py"
    text = wiring.read_text(encoding="utf-8")
    wiring.write_text(re.sub(r"lifetime=\d+", "lifetime=86400", text), encoding="utf-8")
    keys = project / ".oauth-migration" / "keys"
    run(keys, "rotate")
    run(keys, "promote")
    promoted = time.time()
    result = run(keys, "retire")
    assert result.exit_code == 1, result.output
    stamp = re.search(r"not before (\S+Z)", result.output)
    assert stamp is not None, result.output
    earliest = calendar.timegm(time.strptime(stamp.group(1), "%Y-%m-%dT%H:%M:%SZ"))
    assert earliest >= promoted + 86400
