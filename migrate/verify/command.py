"""`migrate verify URL`: the verification checklist as live checks against a running server.

One line per check (PASS, FAIL, WARN or SKIP, its id, the reason), then a summary line;
``--format json`` gives the same verdicts as one JSON object. Exit 1 on any FAIL, so a CI
can gate a deploy on it; a server that cannot be reached is a FAIL, never a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from urllib.parse import urlsplit

import click

from migrate.verify.checks import Check, Status
from migrate.verify.client import Credentials
from migrate.verify.runner import run_checks

EXIT_PASSED = 0
EXIT_FAILED = 1


def summary(checks: Sequence[Check]) -> dict[str, int]:
    def count(status: Status) -> int:
        return sum(1 for check in checks if check.status is status)

    return {
        "passed": count(Status.PASS),
        "failed": count(Status.FAIL),
        "warnings": count(Status.WARN),
        "skipped": count(Status.SKIP),
    }


def render_text(checks: Sequence[Check]) -> str:
    width = max((len(check.id) for check in checks), default=0)
    lines = [f"{check.status:<4}  {check.id:<{width}}  {check.message}" for check in checks]
    totals = summary(checks)
    lines.append(
        f"verify: {totals['passed']} passed, {totals['failed']} failed, "
        f"{totals['warnings']} warnings, {totals['skipped']} skipped"
    )
    return "\n".join(lines)


def render_json(url: str, checks: Sequence[Check]) -> str:
    totals = summary(checks)
    report = {
        "url": url,
        "ok": totals["failed"] == 0,
        "summary": totals,
        "checks": [check.to_json() for check in checks],
    }
    return json.dumps(report, indent=2)


def _base_url(ctx: click.Context, param: click.Parameter, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise click.BadParameter(f"{value!r} is not an http(s) URL such as http://127.0.0.1:8000")
    return value.rstrip("/")


def _credentials(client_id: str | None, client_secret: str | None) -> Credentials | None:
    if (client_id is None) != (client_secret is None):
        raise click.UsageError("give --client-id and --client-secret together")
    return Credentials(client_id, client_secret) if client_id is not None else None


@click.command("verify")
@click.argument("url", callback=_base_url)
@click.option("--client-id", metavar="ID", help="A registered client, to call introspection.")
@click.option("--client-secret", metavar="S", help="That client's secret.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    help="One line per check, or one JSON object.",
)
@click.option("--timeout", type=float, default=15.0, show_default=True, help="Seconds per request.")
def verify_command(
    url: str, client_id: str | None, client_secret: str | None, fmt: str, timeout: float
) -> None:
    """Check a running server from outside, as a demanding client would.

    URL is the server's BASE_URL (its issuer). Exit 1 when any check fails, else 0.
    """
    checks = run_checks(url, _credentials(client_id, client_secret), timeout)
    click.echo(render_json(url, checks) if fmt == "json" else render_text(checks))
    failed = any(check.status is Status.FAIL for check in checks)
    raise SystemExit(EXIT_FAILED if failed else EXIT_PASSED)
