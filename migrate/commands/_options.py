"""The arguments and options `migrate` commands share, and the confirmation prompt.

PATH is checked before anything else is read: a folder that exists, whose state file (if
any) is an object. Nothing here writes to the target tree.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import click

from migrate.emit import STATE_DIR
from migrate.errors import BadUsage, NoSuchFolder, StateError

F = TypeVar("F", bound=Callable[..., Any])

# The planner's STEP_TITLES, spelt out so `--help` need not import the planner (a test
# keeps the two equal).
STEP_IDS = (
    "keys, emit-runtime, wrap-metadata, mint-jwt, hybrid-gate, revoke-on-delete, "
    "install-runtime, install-mcp, requirements, gitignore"
)


def _existing_folder(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """PATH must be a folder that exists; said before anything else is read."""
    if value is None:
        return None
    if not value.exists():
        raise NoSuchFolder(f"{value}: no such folder")
    if not value.is_dir():
        raise BadUsage(f"{value}: is a file; give the folder of the server")
    _check_state_shape(value)
    return value


def _check_state_shape(folder: Path) -> None:
    """A state file that is JSON but not an object (a list, a string) is named as such,
    with how to recover, before any command reads it field by field."""
    path = folder / STATE_DIR / "state.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # absent or not JSON: the state reader says so in its own words
    history = data.get("history", []) if isinstance(data, dict) else None
    if isinstance(history, list) and all(isinstance(entry, dict) for entry in history):
        return
    kinds: dict[type, str] = {
        list: "a list",
        str: "a string",
        dict: "an object with a malformed history",
    }
    found = kinds.get(type(data), "a number or null")
    raise StateError(
        f"{path}: not an oauth-migrate state file (it holds {found}); restore it "
        f"from version control, e.g. `git checkout -- {STATE_DIR}/state.json`"
    )


def path_argument(default: str | None = ".") -> Callable[[F], F]:
    """The ``[PATH]`` argument: the server's folder (default: the current one)."""
    return click.argument(
        "path",
        required=False,
        default=default,
        type=click.Path(path_type=Path),
        callback=_existing_folder,
    )


def format_option(what: str = "the report") -> Callable[[F], F]:
    """``--format text|json``: ``fmt`` in the command's parameters."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help=f"Text for a person, or {what} as one JSON object (schema in README.md).",
    )


# plan, apply and finalize scan the tree the same way, so they share the option.
exclude_option = click.option(
    "--exclude",
    multiple=True,
    metavar="GLOB",
    help="Leave out of the scan the files whose path under PATH, name or folder matches.",
)
allow_dirty_option = click.option(
    "--allow-dirty", is_flag=True, help="Apply over uncommitted changes."
)
yes_option = click.option(
    "--yes", is_flag=True, help="Do not ask for confirmation (needed without a TTY)."
)
prometheus_option = click.option(
    "--prometheus", metavar="URL", help="Read the metrics from this Prometheus server."
)


def _step_ids(
    ctx: click.Context, param: click.Parameter, value: tuple[str, ...]
) -> tuple[str, ...]:
    """Unknown step ids are a usage error naming them and listing the good ones."""
    known = STEP_IDS.split(", ")
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise BadUsage(f"unknown step id(s): {', '.join(unknown)} (the step ids: {STEP_IDS})")
    return value


only_option = click.option(
    "--only",
    multiple=True,
    metavar="ID",
    callback=_step_ids,
    help=f"Keep only these step ids ({STEP_IDS}).",
)
skip_option = click.option(
    "--skip", multiple=True, metavar="ID", callback=_step_ids, help="Leave out these step ids."
)


def confirm(question: str, yes: bool, flag_use: str) -> None:
    """Ask on a terminal; refuse without one unless ``--yes`` was given.

    ``flag_use`` says what ``--yes`` does, for the refusal message (a CI job has no one to
    answer the prompt, and a bare "Aborted!" does not say how to proceed)."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise BadUsage(
            f"{question} needs an answer, and stdin is not a terminal: pass --yes to {flag_use}"
        )
    click.confirm(question, abort=True, err=True)


def _base_url(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """URL must be an http(s) issuer URL: scheme, host, no query or fragment."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as problem:
        raise click.BadParameter(f"{value!r} is not a valid URL ({problem})") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise click.BadParameter(f"{value!r} is not an http(s) URL such as http://127.0.0.1:8000")
    if parts.query or parts.fragment:
        raise click.BadParameter(f"{value!r}: give the issuer URL, without ?query or #fragment")
    return value.rstrip("/")


url_argument = click.argument("url", callback=_base_url)
