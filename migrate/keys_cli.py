"""`migrate keys ...`: the key folder's life cycle, over :mod:`shims.keys`.

Rotation follows STANDARDS.md: ``rotate`` publishes a staged key, ``promote`` makes it
sign once relying parties had time to fetch the JWKS, ``retire`` drops the previous key
only when no token it signed can still be alive.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar, cast

import click

from migrate.cli_support import echo_json, format_option
from shims.keys import ENV_KEYS_DIR, KeyFolder, KeyProblem, SigningKey

DEFAULT_KEYS_DIR = ".oauth-migration/keys"
F = TypeVar("F", bound=Callable[..., Any])

keys_dir_option = click.option(
    "--keys-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar=ENV_KEYS_DIR,
    default=DEFAULT_KEYS_DIR,
    show_default=True,
    help=f"Key folder (or ${ENV_KEYS_DIR}).",
)
bits_option = click.option("--bits", type=int, default=2048, show_default=True)


def _reports_key_problems(command: F) -> F:
    """Expected key errors become one line on stderr and exit status 1, not a traceback."""

    @wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except KeyProblem as problem:
            raise click.ClickException(str(problem)) from None

    return cast(F, run)


def _describe(key: SigningKey) -> str:
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(key.state_since))
    return f"{key.kid}  {key.state:<8}  RSA {key.public_key.key_size}  since {since}"


@click.group("keys")
def keys_group() -> None:
    """Generate, list, publish and rotate the signing keys."""


@keys_group.command()
@keys_dir_option
@bits_option
@_reports_key_problems
def generate(keys_dir: Path, bits: int) -> None:
    """Create the first signing key (private file mode 0600)."""
    key = KeyFolder(keys_dir).generate(bits)
    click.echo(f"generated {_describe(key)} in {keys_dir}")


@keys_group.command("list")
@keys_dir_option
@format_option("the keys")
@_reports_key_problems
def list_keys(keys_dir: Path, fmt: str) -> None:
    """Show every key with its state."""
    keys = KeyFolder(keys_dir).ring().keys
    if fmt == "json":
        echo_json("keys-list", 0, {"keys_dir": str(keys_dir), "keys": [_row(k) for k in keys]})
        return
    for key in keys:
        click.echo(_describe(key))


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
@_reports_key_problems
def jwks(keys_dir: Path) -> None:
    """Print the public JWKS (no private members)."""
    click.echo(json.dumps(KeyFolder(keys_dir).ring().jwks(), indent=2))


@keys_group.command()
@keys_dir_option
@bits_option
@_reports_key_problems
def rotate(keys_dir: Path, bits: int) -> None:
    """Stage a new key: published in the JWKS, not signing yet."""
    key = KeyFolder(keys_dir).rotate(bits)
    click.echo(f"staged {_describe(key)}; promote it once every JWKS cache has it")


@keys_group.command()
@keys_dir_option
@_reports_key_problems
def promote(keys_dir: Path) -> None:
    """The staged key signs; the active one becomes retiring (still published)."""
    key = KeyFolder(keys_dir).promote()
    click.echo(f"active {_describe(key)}")


@keys_group.command()
@keys_dir_option
@click.option(
    "--max-token-lifetime",
    type=int,
    default=3600,
    show_default=True,
    help="Longest access-token lifetime, in seconds.",
)
@click.option("--force", is_flag=True, help="Retire even if tokens it signed may be alive.")
@_reports_key_problems
def retire(keys_dir: Path, max_token_lifetime: int, force: bool) -> None:
    """Drop retiring keys once no token they signed can still be alive."""
    retired = KeyFolder(keys_dir).retire(max_token_lifetime, force=force)
    if not retired:
        click.echo("no retiring key")
    for key in retired:
        click.echo(f"retired {key.kid}")
