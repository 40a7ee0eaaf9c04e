"""What every `migrate` command shares: the PATH argument, `--format`, JSON output,
colour, the confirmation prompt and the `next:` line.

Nothing here writes to the target tree; it only checks arguments and formats output.
Colour is used only on a terminal and never with ``NO_COLOR`` set (https://no-color.org).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from migrate.emit import STATE_DIR
from migrate.exit_codes import Exit, MigrateError

SCHEMA_PREFIX = "oauth-migrate"
# Seconds of silence before a progress note on stderr; the variable is for tests.
ENV_PROGRESS_AFTER = "OAUTH_MIGRATE_PROGRESS_AFTER"
F = TypeVar("F", bound=Callable[..., Any])


def _existing_folder(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """PATH must be a folder that exists; said before anything else is read."""
    if value is None:
        return None
    if not value.exists():
        raise MigrateError(f"{value}: no such folder", Exit.ERROR)
    if not value.is_dir():
        raise MigrateError(f"{value}: is a file; give the folder of the server", Exit.USAGE)
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
    raise MigrateError(
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
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help=f"Text for a person, or {what} as one JSON object (schema in README.md).",
    )


def schema(command: str) -> str:
    """The versioned name of a command's JSON shape, e.g. ``oauth-migrate/plan/2``."""
    return f"{SCHEMA_PREFIX}/{command}/{SCHEMA_VERSIONS.get(command, 1)}"


# Version 2 of plan and apply: typed manual steps (how_to, found, blocks_apply) and the
# recipe with its evidence.
SCHEMA_VERSIONS = {"plan": 2, "apply": 2}


def echo_json(command: str, exit_code: int, body: dict[str, Any]) -> None:
    """One JSON object on stdout: the schema name, the exit code, then the body."""
    document = {"schema": schema(command), "exit_code": int(exit_code), **body}
    click.echo(json.dumps(document, indent=2, sort_keys=True, default=_plain))


def _plain(value: Any) -> Any:
    """Typed findings and manual steps as the JSON objects the schemas describe."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def colour_on(stream: Any = None) -> bool:
    """Colour only for a terminal, and never when NO_COLOR is set (to anything)."""
    if "NO_COLOR" in os.environ:
        return False
    stream = sys.stdout if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def paint(text: str, colour: str, on: bool, *, bold: bool = False) -> str:
    return click.style(text, fg=colour, bold=bold) if on else text


def confirm(question: str, yes: bool, flag_use: str) -> None:
    """Ask on a terminal; refuse without one unless ``--yes`` was given.

    ``flag_use`` says what ``--yes`` does, for the refusal message (a CI job has no one to
    answer the prompt, and a bare "Aborted!" does not say how to proceed)."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise MigrateError(
            f"{question} needs an answer, and stdin is not a terminal: pass --yes to {flag_use}",
            Exit.USAGE,
        )
    click.confirm(question, abort=True, err=True)


def next_step(text: str) -> None:
    """The one line saying which command to run next."""
    click.echo(f"next: {text}")


def progress_after() -> float:
    try:
        return float(os.environ.get(ENV_PROGRESS_AFTER, "1"))
    except ValueError:
        return 1.0


class Progress:
    """A note on stderr when something runs longer than a second, and how long it took.

    ``poke(note)`` restarts the clock with a new note (verify: the next check)."""

    def __init__(self, note: str, *, say_done: bool = True) -> None:
        self.note = note
        self.say_done = say_done
        self.started = time.monotonic()
        self.spoke = False
        self.timer: threading.Timer | None = None

    def __enter__(self) -> Progress:
        self.poke(self.note)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if self.spoke and self.say_done and exc[0] is None:
            click.echo(f"{self.note}: done in {time.monotonic() - self.started:.0f} s", err=True)

    def poke(self, note: str) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.note = note
        self.timer = threading.Timer(progress_after(), self._speak)
        self.timer.daemon = True
        self.timer.start()

    def _speak(self) -> None:
        self.spoke = True
        click.echo(f"{self.note} ...", err=True)


# plan, apply and finalize scan the tree the same way, so they share the option.
exclude_option = click.option(
    "--exclude",
    multiple=True,
    metavar="GLOB",
    help="Leave out of the scan the files whose path under PATH, name or folder matches.",
)
