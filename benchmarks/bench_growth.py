"""What grows with the number of entries: the gate's cache and the jti denylist (issue 13,
item 4), at 10k, 100k and 1M entries, beside the figures measured before.

Baselines (issue 13): an insert into a full cache rescanned all 10,000 entries, 13x a
plain verify, and a client rotating through 10,500 tokens defeated the cache; a revoke
cost 74 ms and the once-a-second reload stalled a request 728 ms, both at 300,000 entries.

How the entries are made: minting a million RS256 tokens would take a quarter of an hour
(about 1 ms to sign each), so one real token is minted and verified, and each cache entry
is a copy of its VerifiedToken with its own jti under a short distinct token string (a real
token's 700 characters would only add the hash of the key, once per request), inserted
through the gate's own insert path (``TokenGate._remember``) and looked up through its own
hit path (``_cached``). The denylist file is filled with one ``executemany`` in one
transaction (rowids in order, as ``Denylist.add`` writes them); everything measured after
that goes through ``Denylist`` itself: ``Denylist(path=...)`` (the load at start), ``add``
(a revoke), ``in`` (the check on the request path), and a second ``Denylist`` on the same
file standing for another worker that revokes. The Redis list runs against a real
``redis-server`` when the machine has one, filled by a server-side script.

The rows that need a word: "the slowest of 2,000 inserts" times each insert alone, so a
stall shows (one insert in N used to sweep the whole cache for expired entries under its
lock; now each insert drops at most two expired entries from the least recently used
end); "the revoke that purges" is the add that drops expired jtis, once a minute (a
settable clock stands in for the minute), at most ``PURGE_BATCH`` of them from a heap of
expiries, likewise under the list's lock; a rotation is measured on its second pass.

Times are the thread's CPU time (``time.thread_time_ns``, as in bench_gate), the best of a
few rounds, fewer at 1M; where a write waits for the disk or a socket (a revoke, a reload,
Redis) the wall-clock time is given beside it. The cases of a size take turns in each
round, so a busy machine moves them together.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.bench_gate import ISSUER, RESOURCE, signing_setup
from shims.denylist import RELOAD_SECONDS, Denylist
from shims.gate import TokenGate
from shims.redis_denylist import DEFAULT_PREFIX, RedisDenylist
from shims.verifier import JwtVerifier, VerifiedToken

SIZES = (10_000, 100_000, 1_000_000)
ROTATION_EXTRA = 0.05  # a client rotating through 5 % more tokens than the cache holds
ROTATION_FITS = 0.95  # and one whose rotation fits
VERIFIES = 200  # plain verifies per round, the baseline
REVOKES = 20  # revokes per round
OTHER_REVOKES = 100  # what another worker revokes between two reloads (one second)
CHECKS = 10_000  # membership checks per round
HOUR = 3600.0

BASELINE_INSERT = "13x a verify at 10k"
# This benchmark's first run, when one insert in N swept the whole cache under its lock.
BASELINE_SWEEP = "1.5 / 21.6 / 448 ms: the 1-in-N insert that swept"
BASELINE_ROTATION = "10,500 tokens defeated a 10k cache"
BASELINE_REVOKE = "74 ms at 300k"
BASELINE_STALL = "728 ms at 300k"


def rounds_for(size: int) -> int:
    """Rounds of each case at ``size`` entries: fewer where one round takes seconds."""
    if size >= 1_000_000:
        return 2
    if size >= 100_000:
        return 3
    return 5


def size_label(size: int) -> str:
    """10k, 100k, 1M: how the sizes are written in the table."""
    if size >= 1_000_000 and size % 1_000_000 == 0:
        return f"{size // 1_000_000}M"
    if size >= 1_000 and size % 1_000 == 0:
        return f"{size // 1_000}k"
    return str(size)


def cache_entries(model: VerifiedToken, count: int, prefix: str) -> list[VerifiedToken]:
    """``count`` copies of one verified token, each with its own token string and jti
    (``prefix`` keeps two sets apart); claims, key and expiry are the real token's."""
    return [
        VerifiedToken(
            token=f"{prefix}{index:08x}",
            claims=model.claims,
            kid=model.kid,
            exp=model.exp,
            jti=f"{prefix}-jti-{index:08x}",
            client_id=model.client_id,
            subject=model.subject,
        )
        for index in range(count)
    ]


def rotation(
    first: Sequence[VerifiedToken], more: Sequence[VerifiedToken], length: int
) -> list[VerifiedToken]:
    """The ``length`` distinct tokens a client cycles through: ``first``, then ``more``."""
    if length > len(first) + len(more):
        raise ValueError(f"{length} tokens asked of {len(first) + len(more)}")
    return list(itertools.islice(itertools.chain(first, more), length))


def denylist_rows(count: int, exp: float, start: int = 0) -> Iterator[tuple[int, str, float]]:
    """(rowid, jti, exp) rows as ``Denylist.add`` writes them: rowids from ``start + 1`` up."""
    for index in range(start, start + count):
        yield index + 1, f"{index:032x}", exp


@dataclass(frozen=True)
class Cost:
    """One measurement: CPU and wall-clock nanoseconds per operation."""

    cpu_ns: float
    wall_ns: float


def measure(run: Callable[[], int]) -> Cost:
    """The cost per operation of one run; the run returns how many operations it made."""
    wall, cpu = time.perf_counter_ns(), time.thread_time_ns()
    operations = run()
    cpu, wall = time.thread_time_ns() - cpu, time.perf_counter_ns() - wall
    return Cost(cpu / operations, wall / operations)


def once(action: Callable[[], object]) -> Callable[[], int]:
    """``action`` as a run of one operation, for :func:`measure`."""

    def run() -> int:
        action()
        return 1

    return run


def best(costs: Sequence[Cost]) -> Cost:
    return Cost(min(c.cpu_ns for c in costs), min(c.wall_ns for c in costs))


def fmt(ns: float) -> str:
    """A duration in the unit that keeps it readable."""
    if ns >= 1e9:
        return f"{ns / 1e9:.2f} s"
    if ns >= 1e6:
        return f"{ns / 1e6:.1f} ms"
    return f"{ns / 1e3:.2f} us"


def both(cost: Cost) -> str:
    """CPU time, and the wall-clock time beside it where waiting made it longer."""
    if cost.wall_ns < 1.2 * cost.cpu_ns:
        return fmt(cost.cpu_ns)
    return f"{fmt(cost.cpu_ns)} ({fmt(cost.wall_ns)} wall)"


class Table:
    """Figures in rows, a column per size, and what was measured before at the end."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.rows: dict[str, dict[int, str]] = {}
        self.baselines: dict[str, str] = {}

    def add(self, size: int, row: str, cell: str, baseline: str = "") -> None:
        self.rows.setdefault(row, {})[size] = cell
        if baseline:
            self.baselines[row] = baseline

    def lines(self) -> list[str]:
        if not self.rows:
            return [self.title]
        sizes = sorted({size for figures in self.rows.values() for size in figures})
        width = max(len(row) for row in self.rows)
        cell = max(len(cell) for figures in self.rows.values() for cell in figures.values())
        header = "".join(f"  {size_label(size):>{cell}}" for size in sizes)
        lines = [self.title, f"  {'':<{width}}{header}  before"]
        for row, figures in self.rows.items():
            columns = "".join(f"  {figures.get(size, '-'):>{cell}}" for size in sizes)
            lines.append(f"  {row:<{width}}{columns}  {self.baselines.get(row, '')}".rstrip())
        return lines


# -- the gate's cache -----------------------------------------------------------------------


class CacheBench:
    """One gate with a cache of ``size`` entries, and the verifier it wraps."""

    def __init__(self, verifier: JwtVerifier, token: str, size: int) -> None:
        self.verifier, self.token, self.size = verifier, token, size
        model = verifier.verify(token)
        self.gate: TokenGate[object] = TokenGate(verifier, mode="final", cache_size=size)
        self.sets = (cache_entries(model, size, "a"), cache_entries(model, size, "b"))
        self.insert_all(self.sets[0])  # full: the next insert evicts
        self._next = itertools.cycle((self.sets[1], self.sets[0]))

    def insert_all(self, entries: Sequence[VerifiedToken]) -> int:
        remember = self.gate._remember
        for verified in entries:
            remember(verified.token, verified)
        return len(entries)

    def insert_round(self) -> int:
        """``size`` new tokens into the full cache, each evicting the least recently used."""
        return self.insert_all(next(self._next))

    def verify_round(self) -> int:
        for _ in range(VERIFIES):
            self.verifier.verify(self.token)
        return VERIFIES

    def slowest_insert(self, count: int = 2000) -> float:
        """CPU nanoseconds of the slowest of ``count`` single inserts into the full cache:
        a stall (a scan of the whole cache under its lock) shows here, an average hides it."""
        held = next(iter(self.gate._cache))
        fresh = self.sets[held.startswith("a")][:count]
        remember, slowest = self.gate._remember, 0
        for verified in fresh:
            start = time.thread_time_ns()
            remember(verified.token, verified)
            slowest = max(slowest, time.thread_time_ns() - start)
        return float(slowest)

    def requests(self, tokens: Sequence[VerifiedToken]) -> tuple[float, Cost]:
        """A client cycling through ``tokens``: the hit rate of the second pass, and its
        cost per request (a miss: the lookup and the insert; the verify comes on top)."""
        cached, remember = self.gate._cached, self.gate._remember
        hits = 0

        def cycle() -> int:
            nonlocal hits
            hits = 0
            for verified in tokens:
                if cached(verified.token) is None:
                    remember(verified.token, verified)
                else:
                    hits += 1
            return len(tokens)

        cycle()  # the first pass fills the cache
        cost = measure(cycle)
        return hits / len(tokens), cost


def bench_cache(verifier: JwtVerifier, token: str, size: int, table: Table) -> None:
    bench = CacheBench(verifier, token, size)
    inserts: list[Cost] = []
    verifies: list[Cost] = []
    for _ in range(rounds_for(size)):
        inserts.append(measure(bench.insert_round))
        verifies.append(measure(bench.verify_round))
    insert, verify = best(inserts).cpu_ns, best(verifies).cpu_ns
    slowest = bench.slowest_insert()
    a, b = bench.sets
    miss_rate, misses = bench.requests(rotation(a, b, round(size * (1 + ROTATION_EXTRA))))
    fit_rate, fits = bench.requests(rotation(a, b, round(size * ROTATION_FITS)))
    table.add(size, "plain JwtVerifier.verify", fmt(verify))
    table.add(
        size, "insert into a full cache", f"{fmt(insert)} {insert / verify:.3f}x", BASELINE_INSERT
    )
    table.add(size, "  the slowest of 2,000 inserts", fmt(slowest), BASELINE_SWEEP)
    table.add(size, "new token: verify + insert", f"{(verify + insert) / verify:.3f}x verify")
    table.add(size, "rotation of N+5%: hit rate", f"{miss_rate:.1%}", BASELINE_ROTATION)
    table.add(
        size, "  a request (verify + miss)", f"{(verify + misses.cpu_ns) / verify:.3f}x verify"
    )
    table.add(size, "rotation of 95% of N: hit rate", f"{fit_rate:.1%}")
    table.add(size, "  a request (cache hit)", fmt(fits.cpu_ns))


# -- the denylist ---------------------------------------------------------------------------


class Clock:
    """A settable clock: the purge runs once a minute, and a benchmark will not wait one."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def fill_file(path: Path, count: int, exp: float) -> None:
    """``count`` rows in the denylist's own table, in one transaction."""
    Denylist(path=path)  # creates the file and its schema, as a server's first start does
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("BEGIN")
        connection.executemany(
            "INSERT INTO revoked (rowid, jti, exp) VALUES (?, ?, ?)", denylist_rows(count, exp)
        )
        connection.execute("COMMIT")
    finally:
        connection.close()


def revoker(
    denylist: Denylist, prefix: str, exp: Callable[[], float], count: int = REVOKES
) -> Callable[[], int]:
    """A run of ``count`` revocations, each of a jti never seen before."""
    counter = itertools.count()

    def run() -> int:
        for _ in range(count):
            denylist.add(f"{prefix}{next(counter)}", exp())
        return count

    return run


def checker(denylist: Denylist, jti: str) -> Callable[[], int]:
    def run() -> int:
        for _ in range(CHECKS):
            jti in denylist  # noqa: B015 - the check is what is measured
        return CHECKS

    return run


def purging_add(denylist: Denylist, clock: Clock) -> Cost:
    """The add that runs the once-a-minute purge (nothing is expired: its fixed cost)."""
    clock.now += 61.0
    return measure(revoker(denylist, f"purge-{clock.now}-", lambda: clock.now + HOUR, 1))


def bench_file_denylist(size: int, folder: Path, table: Table) -> None:
    clock = Clock()
    path = folder / f"denylist-{size}.sqlite3"
    fill_file(path, size, clock.now + 10 * HOUR)
    loaded: list[Denylist] = []

    def load() -> int:
        loaded.append(Denylist(clock=clock, path=path))
        return 1

    def expire() -> float:
        return clock.now + HOUR

    loads: list[Cost] = []
    revokes: list[Cost] = []
    checks: list[Cost] = []
    stalls: list[Cost] = []
    for index in range(max(2, rounds_for(size))):
        loads.append(measure(load))
        if index == 0:
            continue  # two lists from the next round: this worker's, another's on the file
        here, other = loaded[0], loaded[1]
        revokes.append(measure(revoker(here, f"r{index}-", expire)))
        checks.append(measure(checker(here, "not-revoked")))
        reload_now(here)  # its own revocations read back, so the next reload reads only:
        revoker(other, f"o{index}-", expire, OTHER_REVOKES)()
        held = len(here)
        stalls.append(measure(reload_now(here)))
        if len(here) != held + OTHER_REVOKES:
            raise RuntimeError(f"the reload read {len(here) - held} rows, not {OTHER_REVOKES}")
    table.add(size, "load at start", both(best(loads)))
    table.add(size, "revoke (add)", both(best(revokes)), BASELINE_REVOKE)
    table.add(size, "check, no reload due", both(best(checks)))
    table.add(size, f"check that reloads {OTHER_REVOKES} new", both(best(stalls)), BASELINE_STALL)
    table.add(size, "the revoke that purges (1/min)", both(purging_add(loaded[0], clock)))


def reload_now(denylist: Denylist) -> Callable[[], int]:
    """One check on the request path with the once-a-second reload due."""

    def run() -> int:
        denylist._next_check = 0.0
        "not-revoked" in denylist  # noqa: B015 - the check (and its reload) is measured
        return 1

    return run


def bench_memory_denylist(size: int, table: Table) -> None:
    clock = Clock()
    denylist = Denylist(clock=clock)
    exp = clock.now + HOUR
    adds: list[Cost] = []
    checks: list[Cost] = []

    def fill() -> int:
        for index in range(size):
            denylist.add(f"{index:032x}", exp)
        return size

    adds.append(measure(fill))
    for index in range(rounds_for(size)):
        adds.append(measure(revoker(denylist, f"m{index}-", lambda: exp)))
        checks.append(measure(checker(denylist, "not-revoked")))
    table.add(size, "revoke (add)", fmt(best(adds).cpu_ns))
    table.add(size, "check", fmt(best(checks).cpu_ns))
    table.add(size, "the revoke that purges (1/min)", fmt(purging_add(denylist, clock).cpu_ns))
    table.add(size, "  the same, 1% of N expired", fmt(expired_purge(denylist, clock, size)))


def expired_purge(denylist: Denylist, clock: Clock, size: int) -> float:
    """The purging add when 1 % of the list has expired: at most PURGE_BATCH go per purge,
    so its cost is bounded whatever the backlog."""
    for index in range(size // 100):
        denylist.add(f"brief-{index:032x}", clock.now + 1)
    clock.now += 61.0
    return purging_add(denylist, clock).cpu_ns


# -- Redis ----------------------------------------------------------------------------------

# One script call fills the list server-side: a million SETs from the client would take
# longer than everything else here.
FILL_SCRIPT = """
for index = tonumber(ARGV[1]), tonumber(ARGV[2]) do
  redis.call('SET', KEYS[1] .. string.format('%032x', index), ARGV[3], 'PXAT', ARGV[4])
end
return 1
"""
FILL_BATCH = 100_000  # entries per script call: one call blocks the server meanwhile


def bench_redis(folder: Path, table: Table) -> None:
    from tests.support.redis_server import SKIP_REASON, RedisServer, redis_binary

    if redis_binary() is None:
        table.title += f": skipped, {SKIP_REASON}"
        return
    import redis

    with RedisServer(folder / "redis") as server:
        client: Any = redis.Redis.from_url(server.url)
        # Another replica that revokes; started while the list is empty, since a start
        # reads every entry (seconds at 1M) and only this one's revocations matter.
        other = RedisDenylist(server.url, poll_seconds=HOUR)
        exp = time.time() + 10 * HOUR
        filled = 0
        for size in SIZES:
            for start in range(filled, size, FILL_BATCH):
                stop = min(size, start + FILL_BATCH) - 1
                args = (start, stop, repr(exp), int(exp * 1000))
                client.eval(FILL_SCRIPT, 1, DEFAULT_PREFIX + "jti:", *args)
            filled = size
            bench_redis_size(server.url, size, other, table)
        other.close()
        client.close()


def bench_redis_size(url: str, size: int, other: RedisDenylist, table: Table) -> None:
    lists: list[RedisDenylist] = []

    def start() -> int:
        # Synced by hand below: the poller would read the other replica's entries itself.
        lists.append(RedisDenylist(url, poll_seconds=HOUR))
        return 1

    def expire() -> float:
        return time.time() + HOUR

    # One start at 1M: it takes seconds, and one round of it is the figure.
    starts = [measure(start) for _ in range(1 if size >= 1_000_000 else rounds_for(size))]
    here = lists[0]
    revokes: list[Cost] = []
    checks: list[Cost] = []
    polls: list[Cost] = []
    for index in range(rounds_for(size)):
        here.sync()  # within the bound again: a check answers from memory
        revokes.append(measure(revoker(here, f"r{size}-{index}-", expire)))
        checks.append(measure(checker(here, "not-revoked")))
        here.sync()
        revoker(other, f"o{size}-{index}-", expire, OTHER_REVOKES)()
        polls.append(measure(once(here.sync)))
    for denylist in lists:
        denylist.close()
    table.add(size, "start (reads every entry)", both(best(starts)))
    table.add(size, "revoke (add)", both(best(revokes)))
    table.add(size, "check", both(best(checks)))
    table.add(size, f"poll that reads {OTHER_REVOKES} new", both(best(polls)))


# -- the run --------------------------------------------------------------------------------


def main() -> None:
    ring, minter = signing_setup()
    token = minter.mint(subject="user", client_id="client", scope="mcp").token
    verifier = JwtVerifier(ring, issuer=ISSUER, audiences=[RESOURCE])
    rounds = ", ".join(f"{size_label(s)}: {rounds_for(s)}" for s in SIZES)
    print("growth benchmark: what grows with N entries (CPU time per operation, the best of")
    print(f"the rounds ({rounds}); wall time beside it where waiting made it longer)")
    cache = Table("gate cache, TokenGate(cache_size=N), RS256 (RSA 2048)")
    for size in SIZES:
        bench_cache(verifier, token, size, cache)
    print("\n".join(cache.lines()))
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = Table(
            f"denylist file, Denylist(path=...): another worker revokes {OTHER_REVOKES} between"
            f" two reloads (one a {RELOAD_SECONDS:g} s)"
        )
        for size in SIZES:
            bench_file_denylist(size, Path(tmp), sqlite)
            os.remove(Path(tmp) / f"denylist-{size}.sqlite3")
        print("\n".join(sqlite.lines()))
        memory = Table("denylist in memory, Denylist()")
        for size in SIZES:
            bench_memory_denylist(size, memory)
        print("\n".join(memory.lines()))
        shared = Table(
            "denylist in Redis, RedisDenylist (a real redis-server; the poll runs in a"
            " background thread)"
        )
        bench_redis(Path(tmp), shared)
        print("\n".join(shared.lines()))


if __name__ == "__main__":
    main()
