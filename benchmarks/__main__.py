"""Run the benchmarks and print their figures: `python -m benchmarks [NAME...] [E2E OPTIONS]`.

NAME is gate, path, plan or e2e.

With no name, all four run; the options go to the end-to-end benchmark and are read
before anything runs (`python -m benchmarks e2e --help`).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable

from benchmarks import bench_e2e, bench_gate, bench_plan, bench_request_path

NAMES = ("gate", "path", "plan", "e2e")


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    chosen = [name for name in args if name in NAMES] or list(NAMES)
    options = [arg for arg in args if arg not in NAMES]
    if options and "e2e" not in chosen:
        raise SystemExit(f"{' '.join(options)}: options are for e2e only")
    runs: dict[str, Callable[[], None]] = {
        "gate": bench_gate.main,
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
