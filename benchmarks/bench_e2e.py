"""Requests per second of real servers before and after the migration, measured from outside.

For each server (the sample with its in-memory store, and the ledger fixture on SQLite),
in one run, on one port: legacy with an opaque token -> `migrate plan` and `apply` ->
hybrid with a fresh JWT and with the opaque token from before -> `migrate finalize` (the
clock moved past the last opaque token's lifetime with OAUTH_MIGRATE_NOW, the documented
test-only clock) -> final with a fresh JWT. Each measurement is POST /mcp `tools/list`
over 4 keep-alive connections on 127.0.0.1 (wrk, or a labelled pure-Python fallback),
after a warm-up. Each figure is printed with its ratio to legacy; a figure with any
answer other than 200 is marked INVALID. Benchmarks print figures; they never assert.

    python -m benchmarks e2e [--duration 5] [--warmup 1] [--cpu-load]  (or make bench)
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from benchmarks import loadgen
from benchmarks.e2e_servers import (
    DEFAULT_SERVERS,
    SERVERS,
    Server,
    ServerSpec,
    access_token,
    migrate,
    refused,
    tools_list_target,
)
from benchmarks.loadgen import Measurement, Target

Generator = Callable[[Target, int], Measurement]
# Far enough past the last opaque mint (lifetime 3600 s + skew) and past the window in
# which `status` looks for opaque tokens still being accepted.
CLOCK_SHIFT = 2 * 3600


@dataclass
class Row:
    phase: str
    token: str
    quiet: Measurement | None = None
    loaded: Measurement | None = None  # with a busy-loop process on the CPU
    note: str = ""


@dataclass
class Options:
    duration: int
    warmup: int
    connections: int
    cpu_load: bool
    generator_name: str
    generator: Generator = field(repr=False)


def measure(http: httpx.Client, server: Server, token: str, row: Row, options: Options) -> Row:
    """Fill ``row``: warm up, then measure, quiet and (when asked) beside a busy loop."""
    target = tools_list_target(http, server.base_url, token)
    for loaded in (False, True) if options.cpu_load else (False,):
        with loadgen.cpu_load(loaded):
            options.generator(target, options.warmup)
            figure = options.generator(target, options.duration)
        if loaded:
            row.loaded = figure
        else:
            row.quiet = figure
    return row


def walk(spec: ServerSpec, options: Options) -> list[Row]:
    """Legacy, hybrid and final for one server, on a temporary copy, measured as it goes."""
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
        root = Path(tmp) / "server"
        spec.copy_to(root)
        server = Server(spec, root, Path(tmp) / "server.log")  # one port for every phase
        with httpx.Client(timeout=30) as http:
            with server:
                opaque = access_token(http, server.base_url)
                rows = [measure(http, server, opaque, Row("legacy", "opaque"), options)]
            migrate("plan", str(root))
            migrate("apply", str(root), "--yes")
            with server:
                fresh = jwt_token(http, server, "hybrid")
                rows.append(measure(http, server, fresh, Row("hybrid", "JWT"), options))
                rows.append(old_opaque(http, server, opaque, spec, options))
            later = {"OAUTH_MIGRATE_NOW": str(int(time.time()) + CLOCK_SHIFT)}
            migrate("finalize", str(root), "--yes", env=later)
            with server:
                final = jwt_token(http, server, "final")
                rows.append(measure(http, server, final, Row("final", "JWT"), options))
                rows.append(Row("final", "old opaque", note=answer_to(http, server, opaque)))
    return rows


def jwt_token(http: httpx.Client, server: Server, phase: str) -> str:
    """A fresh access token, which must be a JWT now: else `apply` did not take effect."""
    token = access_token(http, server.base_url)
    if token.count(".") != 2:
        raise RuntimeError(f"the {phase} server minted an opaque token, not a JWT")
    return token


def answer_to(http: httpx.Client, server: Server, token: str) -> str:
    status = "refused (401)" if refused(http, server.base_url, token) else "NOT refused"
    return f"not measured: {status}"


def old_opaque(
    http: httpx.Client, server: Server, opaque: str, spec: ServerSpec, options: Options
) -> Row:
    row = Row("hybrid", "old opaque")
    if spec.persistent:
        return measure(http, server, opaque, row, options)
    row.note = f"{answer_to(http, server, opaque)}: the in-memory store lost it at the restart"
    return row


# -- printing --------------------------------------------------------------------------


def ratio(value: float, base: float | None) -> str:
    """``value / base`` ("-" without a valid legacy figure to divide by)."""
    return f"{value / base:.2f}x" if base else "-"


def table(rows: Sequence[Row], pick: Callable[[Row], Measurement | None]) -> list[str]:
    legacy = pick(rows[0])
    lines = [
        f"    {'phase':<7} {'token':<11} {'req/s':>8} {'vs legacy':>9} {'p50 ms':>8} "
        f"{'vs legacy':>9} {'p99 ms':>8} {'vs legacy':>9} {'gen CPU':>7}"
    ]
    for row in rows:
        figure = pick(row)
        head = f"    {row.phase:<7} {row.token:<11}"
        lines.append(f"{head} {row.note}" if figure is None else f"{head} {cells(figure, legacy)}")
    return lines


def cells(figure: Measurement, legacy: Measurement | None) -> str:
    """One measurement's figures, each beside its ratio to legacy; INVALID if any was not 200."""
    base = legacy if legacy is not None and legacy.valid else None
    pairs = [
        (f"{figure.rps:8.1f}", ratio(figure.rps, base.rps if base else None)),
        (f"{figure.p50_ms:8.2f}", ratio(figure.p50_ms, base.p50_ms if base else None)),
        (f"{figure.p99_ms:8.2f}", ratio(figure.p99_ms, base.p99_ms if base else None)),
    ]
    text = " ".join(f"{value} {vs:>9}" for value, vs in pairs) + f" {figure.generator_cpu:7.0%}"
    if not figure.valid:
        text += (
            f"  INVALID: {figure.requests} requests, {figure.non_200} not 200, "
            f"{figure.socket_errors} socket errors"
        )
    return text


def report(spec: ServerSpec, rows: Sequence[Row], options: Options) -> None:
    lines = [f"  {spec.name}: {spec.description}", *table(rows, lambda row: row.quiet)]
    if options.cpu_load:
        lines.append("   with a second process spinning on one core:")
        lines += table(rows, lambda row: row.loaded)
    print("\n".join(lines), flush=True)


def header(options: Options) -> str:
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"end-to-end benchmark: POST /mcp tools/list on 127.0.0.1, {options.connections} "
        f"keep-alive connections, {options.warmup:g} s warm-up + {options.duration:g} s "
        f"per figure\n  load generator: {options.generator_name}\n"
        f"  {os.cpu_count()} CPUs, load average {load} at the start: busy machines give "
        "noisy figures; ratios from one run are the figures to compare\n"
        "  gen CPU: the load generator's own CPU use (100% = one core)"
    )


# -- the command line ------------------------------------------------------------------


def choose_generator(name: str, connections: int) -> tuple[str, Generator]:
    if name == "auto":
        name = "wrk" if loadgen.wrk_path() else "python"
    if name == "wrk":
        if loadgen.wrk_path() is None:
            raise SystemExit("--generator wrk: wrk is not installed (apt-get install wrk)")
        label = f"{loadgen.wrk_version()}, 1 thread"
        return label, lambda target, s: loadgen.run_wrk(target, seconds=s, connections=connections)
    label = (
        f"pure Python (http.client on {connections} threads), NOT wrk: it may be the "
        "bottleneck (see gen CPU, and install wrk: make bench does when it can)"
    )
    return label, lambda target, s: loadgen.run_python(target, seconds=s, connections=connections)


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value}: a whole number, at least 1")
    return value


def parse_options(argv: Sequence[str] | None) -> tuple[Options, list[ServerSpec]]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks e2e")
    # Whole seconds: wrk takes no fractions.
    parser.add_argument("--duration", type=positive, default=5, help="seconds per figure")
    parser.add_argument("--warmup", type=positive, default=1, help="seconds before each figure")
    parser.add_argument("--connections", type=positive, default=4)
    parser.add_argument(
        "--cpu-load", action="store_true", help="also measure beside a busy-loop process"
    )
    parser.add_argument("--generator", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument(
        "--servers",
        default=",".join(DEFAULT_SERVERS),
        help=f"comma-separated, of {', '.join(SERVERS)} (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.servers.split(",")) - set(SERVERS))
    if unknown:
        parser.error(f"unknown server(s) {', '.join(unknown)}; known: {', '.join(SERVERS)}")
    name, generator = choose_generator(args.generator, args.connections)
    options = Options(args.duration, args.warmup, args.connections, args.cpu_load, name, generator)
    return options, [SERVERS[key] for key in args.servers.split(",")]


def main(argv: Sequence[str] | None = None) -> None:
    run(*parse_options(argv))


def run(options: Options, specs: Sequence[ServerSpec]) -> None:
    started = time.monotonic()
    print(header(options), flush=True)
    for spec in specs:
        report(spec, walk(spec, options), options)
    print(f"  ({time.monotonic() - started:.0f} s in all)")


if __name__ == "__main__":
    main()
