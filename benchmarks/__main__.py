"""Run the benchmarks and print their figures: `python -m benchmarks [NAME...] [E2E OPTIONS]`.

NAME is gate, growth, path, plan or e2e: the gate against raw RSA and jwt.decode; what
grows with the number of entries (the gate's cache, the jti denylist in SQLite, in memory
and in Redis, at 10k, 100k and 1M); the migration's CPU per request; plan over a large
tree and over one large module; end to end under load.

With no name, all five run; the options go to the end-to-end benchmark and are read
before anything runs (`python -m benchmarks e2e --help`).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable

from benchmarks import bench_e2e, bench_gate, bench_growth, bench_plan, bench_request_path

NAMES = ("gate", "growth", "path", "plan", "e2e")


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    chosen = [name for name in args if name in NAMES] or list(NAMES)
    options = [arg for arg in args if arg not in NAMES]
    if options and "e2e" not in chosen:
        raise SystemExit(f"{' '.join(options)}: options are for e2e only")
    runs: dict[str, Callable[[], None]] = {
        "gate": bench_gate.main,
        "growth": bench_growth.main,
        "path": bench_request_path.main,
        "plan": bench_plan.main,
    }
    if "e2e" in chosen:
        runs["e2e"] = functools.partial(bench_e2e.run, *bench_e2e.parse_options(options))
    for index, name in enumerate(chosen):
        if index:
            print()
        runs[name]()


if __name__ == "__main__":
    main()
