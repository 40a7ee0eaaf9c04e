"""How `migrate` commands print: one JSON object, colour, progress notes, ``next:``.

Colour is used only on a terminal and never with ``NO_COLOR`` set (https://no-color.org).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import threading
import time
from typing import Any

import click

SCHEMA_PREFIX = "oauth-migrate"
# Seconds of silence before a progress note on stderr; the variable is for tests.
ENV_PROGRESS_AFTER = "OAUTH_MIGRATE_PROGRESS_AFTER"


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
    """``text`` in ``colour`` when ``on``, else as it is."""
    return click.style(text, fg=colour, bold=bold) if on else text


def next_step(text: str) -> None:
    """The one line saying which command to run next."""
    click.echo(f"next: {text}")


def echo_lines(lines: list[str]) -> None:
    """Each line on stdout (the ``messages`` of a JSON result, as text)."""
    for line in lines:
        click.echo(line)


def progress_after() -> float:
    """Seconds before a progress note: 1, or ``$OAUTH_MIGRATE_PROGRESS_AFTER`` (tests)."""
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
