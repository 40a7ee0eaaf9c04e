"""Requests per second of real servers before and after the migration, measured from outside.

For each server (the sample with its in-memory store, and the ledger fixture on SQLite),
three copies run side by side, each on its own port: one legacy; one started as legacy
(an opaque token is minted), then `migrate plan` and `apply`, then started again (hybrid);
one taken on through `migrate finalize` (the clock moved past the last opaque token's
lifetime with OAUTH_MIGRATE_NOW, the documented test-only clock). Rows: legacy with an
opaque token, hybrid with a fresh JWT and with the opaque token from before, final with a
fresh JWT. A fourth copy, a second legacy one, is measured as a row of its own (A/A): its
ratio to the first legacy copy is what the machine alone does to a ratio, so the other
rows' ratios are read against its range. Each measurement is POST /mcp `tools/list` over 4
keep-alive connections on 127.0.0.1 (wrk, or a labelled pure-Python fallback), after a
warm-up; every round is run twice by default, the second time beside a process spinning
on one core (issue 13's second condition; `--no-cpu-load` leaves it out).

Other work on the machine moves every figure, so the rows take turns: each round measures
every row once, each ratio to legacy is taken within its round, and the table gives the
median over the rounds with the range of the ratios, beside issue 13's last figure and the
target. A figure with any answer other than 200 is marked INVALID. Benchmarks print
figures; they never assert.

    python -m benchmarks e2e [--duration 2] [--rounds 6] [--no-cpu-load]  (or make bench)
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
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
HYBRID_TARGET = 0.98
# A second, untouched legacy copy measured in the same rounds: its ratio to the first is
# what the machine alone does to a ratio, the precision of every other row.
AGAIN = "again (A/A)"


@dataclass
class Row:
    phase: str
    token: str
    target: Target | None = None  # None: not measured, and the note says why
    pid: int | None = None  # the server process that answers this row
    quiet: list[Measurement] = field(default_factory=list)  # one per round
    loaded: list[Measurement] = field(default_factory=list)  # beside a busy-loop process
    # The server's CPU microseconds per request, per round: waiting for a core another
    # process holds does not count, so this moves less than req/s on a busy machine.
    quiet_cpu: list[float] = field(default_factory=list)
    loaded_cpu: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def label(self) -> str:
        return f"{self.phase} {self.token}"


@dataclass
class Options:
    duration: int
    warmup: int
    rounds: int
    connections: int
    cpu_load: bool
    generator_name: str
    generator: Generator = field(repr=False)


@dataclass
class Copy:
    """One running copy of the server, in one phase, and the tokens it gave."""

    server: Server
    opaque: str  # minted while the copy was still legacy
    fresh: str  # minted by the phase that runs now


def deploy(
    spec: ServerSpec, tmp: Path, phase: str, http: httpx.Client, stack: ExitStack, name: str = ""
) -> Copy:
    """A copy of ``spec`` running in ``phase`` (in folder ``name``, the phase by default);
    it stops when ``stack`` closes."""
    name = name or phase
    root = tmp / name / "server"
    spec.copy_to(root)
    server = Server(spec, root, tmp / f"{name}.log")
    if phase == "legacy":  # kept running: an in-memory store keeps its token only so
        stack.enter_context(server)
        opaque = access_token(http, server.base_url)
        return Copy(server, opaque, opaque)
    with server:
        opaque = access_token(http, server.base_url)
    migrate("plan", str(root))
    migrate("apply", str(root), "--yes")
    if phase == "final":
        with server:  # the hybrid phase runs once, so finalize finds its metrics
            jwt_token(http, server, "hybrid")
        later = {"OAUTH_MIGRATE_NOW": str(int(time.time()) + CLOCK_SHIFT)}
        migrate("finalize", str(root), "--yes", env=later)
    stack.enter_context(server)
    return Copy(server, opaque, jwt_token(http, server, phase))


def rows_for(spec: ServerSpec, copies: dict[str, Copy], http: httpx.Client) -> list[Row]:
    def row(phase: str, token: str, value: str) -> Row:
        server = copies[phase].server
        return Row(phase, token, tools_list_target(http, server.base_url, value), server.pid)

    hybrid, final = copies["hybrid"], copies["final"]
    rows = [
        row("legacy", "opaque", copies["legacy"].opaque),
        Row(
            "legacy",
            AGAIN,
            tools_list_target(http, copies[AGAIN].server.base_url, copies[AGAIN].opaque),
            copies[AGAIN].server.pid,
        ),
        row("hybrid", "JWT", hybrid.fresh),
    ]
    if spec.persistent:
        rows.append(row("hybrid", "old opaque", hybrid.opaque))
    else:
        note = f"{answer_to(http, hybrid.server, hybrid.opaque)}: the in-memory store lost it"
        rows.append(Row("hybrid", "old opaque", note=note + " at the restart"))
    rows.append(row("final", "JWT", final.fresh))
    rows.append(Row("final", "old opaque", note=answer_to(http, final.server, final.opaque)))
    return rows


def measure_rounds(rows: Sequence[Row], options: Options) -> None:
    """Each round measures every row once, quiet and (when asked) beside a busy loop."""
    measured = [row for row in rows if row.target is not None]
    for index in range(options.rounds):
        # Each round starts one row further on: the machine drifts within a round too, and
        # the A/A row must not always be the one measured right after legacy.
        turn = index % len(measured)
        for loaded in (False, True) if options.cpu_load else (False,):
            with loadgen.cpu_load(loaded):
                for row in measured[turn:] + measured[:turn]:
                    assert row.target is not None
                    options.generator(row.target, options.warmup)
                    before = process_cpu(row.pid)
                    figure = options.generator(row.target, options.duration)
                    used = process_cpu(row.pid) - before
                    (row.loaded if loaded else row.quiet).append(figure)
                    cpu = row.loaded_cpu if loaded else row.quiet_cpu
                    cpu.append(1e6 * used / figure.requests if figure.requests else 0.0)


def process_cpu(pid: int | None) -> float:
    """CPU seconds (user + system) a process has used; NaN where /proc cannot tell."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def walk(spec: ServerSpec, options: Options) -> list[Row]:
    """Legacy, hybrid and final copies of one server side by side, measured in rounds."""
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp, ExitStack() as stack:
        with httpx.Client(timeout=30) as http:
            copies = {
                phase: deploy(spec, Path(tmp), phase, http, stack)
                for phase in ("legacy", "hybrid", "final")
            }
            copies[AGAIN] = deploy(spec, Path(tmp), "legacy", http, stack, name="legacy-again")
            rows = rows_for(spec, copies, http)
        measure_rounds(rows, options)
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


# -- printing --------------------------------------------------------------------------


def ratios(figures: Sequence[float], bases: Sequence[float]) -> list[float]:
    """Per-round ratios, sorted (empty without a legacy figure for every round)."""
    if len(figures) != len(bases) or not all(bases):
        return []
    return sorted(f / b for f, b in zip(figures, bases, strict=True))


def ratio_text(values: list[float]) -> str:
    if not values:
        return f"{'-':>17}"
    return f"{statistics.median(values):5.2f}x {values[0]:.2f}..{values[-1]:.2f}"


def goal(spec: ServerSpec, row: Row) -> str:
    """Issue 13's last figure for the row and its target, as text for the last column."""
    if row.token == AGAIN:
        return "the noise: ratios inside its range are the machine's"
    was = spec.baseline.get(row.label)
    target = {"hybrid": HYBRID_TARGET, "final": spec.final_target}.get(row.phase)
    parts = ([f"was {was:.2f}x"] if was else []) + ([f">= {target:.2f}x"] if target else [])
    return ", ".join(parts)


Pick = Callable[[Row], tuple[list[Measurement], list[float]]]


def table(spec: ServerSpec, rows: Sequence[Row], pick: Pick) -> Iterator[str]:
    legacy, legacy_cpu = pick(rows[0])
    yield (
        f"    {'phase':<7} {'token':<11} {'req/s':>8} {'vs legacy, range':>17} {'p50 ms':>7} "
        f"{'vs legacy':>9} {'p99 ms':>7} {'vs legacy':>9} {'gen CPU':>7} {'CPU us/req':>10} "
        f"{'vs legacy':>9}  was / target"
    )
    for row in rows:
        figures, cpu = pick(row)
        head = f"    {row.phase:<7} {row.token:<11}"
        if not figures:
            yield f"{head} {row.note}"
            continue
        cpu_ratio = ratio_text(ratios(cpu, legacy_cpu))[:6]
        cpu_text = f"{statistics.median(cpu):10.0f} {cpu_ratio:>9}"
        yield (
            f"{head} {cells(figures, legacy)} {cpu_text}  "
            f"{goal(spec, row) if row is not rows[0] else ''}"
        )


def cells(figures: Sequence[Measurement], legacy: Sequence[Measurement]) -> str:
    """Medians over the rounds, each beside its ratio to legacy; INVALID if any was not 200."""

    def median(pick: Callable[[Measurement], float], of: Sequence[Measurement]) -> float:
        return statistics.median(pick(m) for m in of) if of else 0.0

    if not all(m.valid for m in legacy):
        legacy = []  # no ratio to an invalid legacy figure
    rps = ratios([m.rps for m in figures], [m.rps for m in legacy])
    p50 = ratios([m.p50_ms for m in figures], [m.p50_ms for m in legacy])
    p99 = ratios([m.p99_ms for m in figures], [m.p99_ms for m in legacy])
    text = (
        f"{median(lambda m: m.rps, figures):8.1f} {ratio_text(rps)} "
        f"{median(lambda m: m.p50_ms, figures):7.2f} {ratio_text(p50)[:6]:>9} "
        f"{median(lambda m: m.p99_ms, figures):7.2f} {ratio_text(p99)[:6]:>9} "
        f"{median(lambda m: m.generator_cpu, figures):7.0%}"
    )
    bad = [m for m in figures if not m.valid]
    if bad:
        text += (
            f"  INVALID: {sum(m.non_200 for m in bad)} not 200, "
            f"{sum(m.socket_errors for m in bad)} socket errors in {len(bad)} rounds"
        )
    return text


def report(spec: ServerSpec, rows: Sequence[Row], options: Options) -> None:
    quiet = table(spec, rows, lambda row: (row.quiet, row.quiet_cpu))
    lines = [f"  {spec.name}: {spec.description}", *quiet]
    if options.cpu_load:
        lines.append("   with a second process spinning on one core:")
        lines += table(spec, rows, lambda row: (row.loaded, row.loaded_cpu))
    print("\n".join(lines), flush=True)


def header(options: Options) -> str:
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"end-to-end benchmark: POST /mcp tools/list on 127.0.0.1, {options.connections} "
        f"keep-alive connections, {options.rounds} rounds of {options.warmup:g} s warm-up + "
        f"{options.duration:g} s per row\n  load generator: {options.generator_name}\n"
        f"  {os.cpu_count()} CPUs, load average {load} at the start: busy machines give "
        "noisy figures; the ratios, taken within each round, are the figures to compare\n"
        "  req/s, p50, p99: medians over the rounds; vs legacy: the median ratio and its range"
        "\n  gen CPU: the load generator's own CPU use (100% = one core); CPU us/req: the "
        "server's (its vs legacy is a cost: lower is better)"
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
    parser.add_argument("--duration", type=positive, default=2, help="seconds per figure")
    parser.add_argument("--warmup", type=positive, default=1, help="seconds before each figure")
    # Six: the A/A row's range showed four rounds leave about +-10 % on a quiet machine.
    parser.add_argument("--rounds", type=positive, default=6, help="turns every row takes")
    parser.add_argument("--connections", type=positive, default=4)
    parser.add_argument(
        "--cpu-load",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure beside a busy-loop process (issue 13's second condition)",
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
    options = Options(
        args.duration, args.warmup, args.rounds, args.connections, args.cpu_load, name, generator
    )
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
