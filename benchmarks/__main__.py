"""Run every benchmark and print its figures: `python -m benchmarks`."""

from __future__ import annotations

from benchmarks import bench_gate, bench_plan


def main() -> None:
    bench_gate.main()
    print()
    bench_plan.main()


if __name__ == "__main__":
    main()
