"""`migrate keys ...`: the key folder's life cycle, over :mod:`shims.keys`.

Rotation as MIGRATION.md section 7 describes it: ``rotate`` publishes a staged key,
``promote`` makes it sign once relying parties had time to fetch the JWKS, ``retire``
drops the previous key only when no token it signed can still be alive.

The commands see the keys the server sees: while ``OAUTH_MIGRATE_SIGNING_KEY`` is set,
the server signs with that key and never reads the folder, so ``list`` and ``jwks`` show
the environment's keys (and say so), and the commands that change the folder refuse
rather than change keys nobody uses. A folder whose private keys group or others may
read is refused, with the ``chmod`` that fixes it. A refusal of :mod:`shims.keys`
(``KeyProblem``) exits 1 with its one line (:data:`migrate.errors.FOREIGN`).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import click

from migrate.commands._options import format_option
from migrate.commands._output import echo_json
from migrate.errors import KeyRefused
from shims.keys import (
    ENV_KEYS_DIR,
    ENV_PUBLISHED_KEYS,
    ENV_SIGNING_KEY,
    MAX_BITS,
    MIN_BITS,
    KeyFolder,
    KeyRing,
    SigningKey,
)

DEFAULT_KEYS_DIR = ".oauth-migration/keys"

keys_dir_option = click.option(
    "--keys-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar=ENV_KEYS_DIR,
    default=DEFAULT_KEYS_DIR,
    show_default=True,
    help=f"Key folder (or ${ENV_KEYS_DIR}).",
)
bits_option = click.option(
    "--bits",
    type=click.IntRange(MIN_BITS, MAX_BITS),
    default=2048,
    show_default=True,
    help=f"RSA key size, {MIN_BITS} to {MAX_BITS}.",
)


def _environment_key() -> str | None:
    return os.environ.get(ENV_SIGNING_KEY) or None


def _folder_to_change(keys_dir: Path) -> KeyFolder:
    """The folder a writing command may change: none while the server signs from the env."""
    if _environment_key() is not None:
        raise KeyRefused(
            f"${ENV_SIGNING_KEY} is set: the server signs with that key and does not read "
            f"{keys_dir}, so changing the folder would change nothing it uses. Rotate the "
            f"key where that variable is kept (the previous key goes in ${ENV_PUBLISHED_KEYS} "
            f"meanwhile), or unset ${ENV_SIGNING_KEY} to manage the folder."
        )
    return KeyFolder(keys_dir, strict=True)


def _ring(keys_dir: Path) -> tuple[KeyRing, bool]:
    """The keys the server would use, and whether they come from the environment."""
    pem = _environment_key()
    if pem is not None:
        return KeyRing.from_pem(pem, os.environ.get(ENV_PUBLISHED_KEYS, "")), True
    return KeyFolder(keys_dir, strict=True).ring(), False


def _describe(key: SigningKey) -> str:
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(key.state_since))
    return f"{key.kid}  {key.state:<8}  RSA {key.public_key.key_size}  since {since}"


def _describe_env(key: SigningKey) -> str:
    source = ENV_SIGNING_KEY if key.state == "active" else ENV_PUBLISHED_KEYS
    return f"{key.kid}  {key.state:<8}  RSA {key.public_key.key_size}  from ${source}"


@click.group("keys")
def keys_group() -> None:
    """Generate, list, publish and rotate the signing keys."""


@keys_group.command()
@keys_dir_option
@bits_option
def generate(keys_dir: Path, bits: int) -> None:
    """Create the first signing key (private file mode 0600)."""
    key = _folder_to_change(keys_dir).generate(bits)
    click.echo(f"generated {_describe(key)} in {keys_dir}")


@keys_group.command("list")
@keys_dir_option
@format_option("the keys")
def list_keys(keys_dir: Path, fmt: str) -> None:
    """Show every key with its state (those of $OAUTH_MIGRATE_SIGNING_KEY when it is set)."""
    ring, from_env = _ring(keys_dir)
    if fmt == "json":
        source = f"${ENV_SIGNING_KEY}" if from_env else str(keys_dir)
        echo_json("keys-list", 0, {"keys_dir": source, "keys": [_row(k) for k in ring.keys]})
        return
    for key in ring.keys:
        click.echo(_describe_env(key) if from_env else _describe(key))


def _row(key: SigningKey) -> dict[str, Any]:
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(key.state_since))
    return {
        "kid": key.kid,
        "state": key.state,
        "bits": key.public_key.key_size,
        "since": key.state_since,
        "since_iso": since,
    }


@keys_group.command()
@keys_dir_option
def jwks(keys_dir: Path) -> None:
    """Print the public JWKS (no private members)."""
    ring, from_env = _ring(keys_dir)
    if from_env:
        click.echo(f"keys from ${ENV_SIGNING_KEY} (the key folder is not used)", err=True)
    click.echo(json.dumps(ring.jwks(), indent=2))


@keys_group.command()
@keys_dir_option
@bits_option
def rotate(keys_dir: Path, bits: int) -> None:
    """Stage a new key: published in the JWKS, not signing yet."""
    key = _folder_to_change(keys_dir).rotate(bits)
    click.echo(f"staged {_describe(key)}; promote it once every JWKS cache has it")


@keys_group.command()
@keys_dir_option
def promote(keys_dir: Path) -> None:
    """The staged key signs; the active one becomes retiring (still published)."""
    key = _folder_to_change(keys_dir).promote()
    click.echo(f"active {_describe(key)}")


@keys_group.command()
@keys_dir_option
@click.option(
    "--max-token-lifetime",
    type=click.IntRange(min=1),
    default=None,
    help="Longest access-token lifetime, in seconds [default: the lifetime the migrated "
    "tree's wiring.py holds, for a key folder inside .oauth-migration/; else 3600].",
)
@click.option("--force", is_flag=True, help="Retire even if tokens it signed may be alive.")
def retire(keys_dir: Path, max_token_lifetime: int | None, force: bool) -> None:
    """Drop retiring keys once no token they signed can still be alive."""
    from migrate.key_folder import tree_lifetime

    if max_token_lifetime is None:
        max_token_lifetime = tree_lifetime(keys_dir)
    retired = _folder_to_change(keys_dir).retire(max_token_lifetime, force=force)
    if not retired:
        click.echo("no retiring key")
    for key in retired:
        click.echo(f"retired {key.kid}")
