"""`migrate verify URL`: the verification checklist as live checks against a running server.

One line per check (PASS, FAIL, WARN or SKIP, its id, the reason), printed as each check
completes, then a summary line; ``--format json`` gives the same verdicts as one JSON
object. Exit 8 on any FAIL, so a CI can gate a deploy on it; a server that cannot be
reached is one FAIL line ("cannot connect"), never a traceback. The HTTP client (httpx)
is imported only when the command runs, so `migrate --help` does not pay for it. The
checks themselves are :mod:`migrate.verify`; this module runs them and prints them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from migrate.commands._options import format_option, url_argument
from migrate.commands._output import Progress, colour_on, paint, schema
from migrate.exit_codes import Exit

if TYPE_CHECKING:
    from migrate.verify.checks import Check
    from migrate.verify.client import Credentials

STATUS_COLOURS = {"PASS": "green", "FAIL": "red", "WARN": "yellow", "SKIP": "bright_black"}
ID_WIDTH = 28  # the longest check id, so that streamed lines line up


def summary(checks: Sequence[Check]) -> dict[str, int]:
    def count(status: str) -> int:
        return sum(1 for check in checks if str(check.status) == status)

    return {
        "passed": count("PASS"),
        "failed": count("FAIL"),
        "warnings": count("WARN"),
        "skipped": count("SKIP"),
    }


def check_line(check: Check, width: int = 0, colour: bool = False) -> str:
    status = paint(f"{check.status!s:<4}", STATUS_COLOURS.get(str(check.status), "white"), colour)
    return f"{status}  {check.id:<{width}}  {check.message}"


def summary_line(checks: Sequence[Check]) -> str:
    totals = summary(checks)
    return (
        f"verify: {totals['passed']} passed, {totals['failed']} failed, "
        f"{totals['warnings']} warnings, {totals['skipped']} skipped"
    )


def render_text(checks: Sequence[Check]) -> str:
    width = max((len(check.id) for check in checks), default=0)
    lines = [check_line(check, width) for check in checks]
    return "\n".join([*lines, summary_line(checks)])


def render_json(url: str, checks: Sequence[Check]) -> str:
    totals = summary(checks)
    report = {
        "schema": schema("verify"),
        "exit_code": int(Exit.CHECKS_FAILED if totals["failed"] else Exit.OK),
        "url": url,
        "ok": totals["failed"] == 0,
        "summary": totals,
        "checks": [check.to_json() for check in checks],
    }
    return json.dumps(report, indent=2)


def _credentials(client_id: str | None, client_secret: str | None) -> Credentials | None:
    from migrate.verify.client import Credentials

    if (client_id is None) != (client_secret is None):
        raise click.UsageError("give --client-id and --client-secret together")
    return Credentials(client_id, client_secret) if client_id is not None else None


class Printer:
    """Prints each check as it completes (text mode); while the server keeps it waiting
    for over a second, a note on stderr says so."""

    def __init__(self, text: bool, progress: Progress) -> None:
        self.text = text
        self.colour = text and colour_on()
        self.progress = progress

    def __call__(self, check: Check) -> None:
        if self.text:
            click.echo(check_line(check, ID_WIDTH, self.colour))
            sys.stdout.flush()
        self.progress.poke(f"verify: waiting for the server (after {check.id})")


@click.command("verify")
@url_argument
@click.option("--client-id", metavar="ID", help="A registered client, to call introspection.")
@click.option("--client-secret", metavar="S", help="That client's secret.")
@format_option("the verdicts")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=15.0,
    show_default=True,
    help="Seconds per request (more than 0).",
)
@click.option(
    "--mcp-path",
    metavar="PATH",
    default="/mcp",
    show_default=True,
    help="The MCP endpoint's path under URL (the plan's `mcp` finding names it).",
)
def verify_command(
    url: str,
    client_id: str | None,
    client_secret: str | None,
    fmt: str,
    timeout: float,
    mcp_path: str,
) -> None:
    """Check a running server from outside, as a demanding client would.

    URL is the server's BASE_URL (its issuer). Exit 8 when any check fails, else 0.
    """
    from migrate.verify.runner import run_checks

    credentials = _credentials(client_id, client_secret)
    with Progress(f"verify: waiting for {url}", say_done=False) as progress:
        printer = Printer(fmt == "text", progress)
        checks = run_checks(url, credentials, timeout, on_check=printer, mcp_path=mcp_path)
    click.echo(render_json(url, checks) if fmt == "json" else summary_line(checks))
    failed = summary(checks)["failed"] > 0
    raise SystemExit(int(Exit.CHECKS_FAILED if failed else Exit.OK))
