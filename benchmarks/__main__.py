"""Run the benchmarks and print their figures: `python -m benchmarks [gate|plan|e2e] [E2E OPTIONS]`.

With no name, all three run; options after the names go to the end-to-end benchmark
(`python -m benchmarks e2e --help`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from benchmarks import bench_e2e, bench_gate, bench_plan

NAMES = ("gate", "plan", "e2e")


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    chosen = [name for name in args if name in NAMES] or list(NAMES)
    options = [arg for arg in args if arg not in NAMES]
    runs: dict[str, Callable[[], None]] = {
        "gate": bench_gate.main,
        "plan": bench_plan.main,
        "e2e": lambda: bench_e2e.main(options),
    }
    for index, name in enumerate(chosen):
        if index:
            print()
        runs[name]()


if __name__ == "__main__":
    main()
