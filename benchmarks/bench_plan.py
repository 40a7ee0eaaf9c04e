"""`migrate plan` over a large tree with one legacy server inside, beside parsing it all.

The tree: about 600k lines of generated application code (services, models, HTTP
clients, some with CSRF tokens from ``secrets`` or Authorization headers, so the text
prefilter lets a few of them through) plus a copy of sample_legacy. Baseline: libcst
parsing every file of the same tree. Target (issue 4): plan <= 0.1x the baseline.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import libcst as cst

from migrate.planner import plan_hybrid

REPO = Path(__file__).resolve().parent.parent
TARGET_LINES = 600_000

SERVICE = '''"""Service {n}: orders, invoices and the HTTP client that talks to billing."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass
class Order{n}:
    id: int
    customer: str
    lines: list[tuple[str, int, float]] = field(default_factory=list)

    def total(self) -> float:
        return sum(quantity * price for _, quantity, price in self.lines)

    def add(self, sku: str, quantity: int, price: float) -> None:
        if quantity <= 0:
            raise ValueError("quantity must be positive")
        self.lines.append((sku, quantity, price))

'''

FUNCTION = '''
def compute_{n}_{i}(values: list[float], factor: float = 1.5) -> dict[str, float]:
    """Summary statistics, scaled."""
    if not values:
        return {{"mean": 0.0, "max": 0.0, "min": 0.0}}
    scaled = [v * factor for v in values]
    mean = sum(scaled) / len(scaled)
    result = {{"mean": mean, "max": max(scaled), "min": min(scaled)}}
    log.debug("computed %s", result)
    return result
'''

CSRF = """
import secrets


def new_csrf_token_{n}(session: dict[str, str]) -> str:
    token = secrets.token_hex(16)
    session["csrf"] = token
    log.info("access granted to form %s", {n})
    return token
"""

CLIENT = """

def billing_headers_{n}(api_key: str) -> dict[str, str]:
    return {{"Authorization": f"Bearer {{api_key}}", "Accept": "application/json"}}
"""


def generate(root: Path) -> int:
    lines = 0
    n = 0
    while lines < TARGET_LINES:
        parts = [SERVICE.format(n=n)]
        parts += [FUNCTION.format(n=n, i=i) for i in range(25)]
        if n % 50 == 0:
            parts.append(CSRF.format(n=n))
        if n % 40 == 0:
            parts.append(CLIENT.format(n=n))
        text = "".join(parts)
        package = root / "apps" / f"team{n % 40}"
        package.mkdir(parents=True, exist_ok=True)
        (package / f"service_{n}.py").write_text(text, encoding="utf-8")
        lines += text.count("\n")
        n += 1
    shutil.copytree(REPO / "sample_legacy", root / "sample_legacy")
    return lines


def parse_everything(root: Path) -> int:
    count = 0
    for path in root.rglob("*.py"):
        cst.parse_module(path.read_text(encoding="utf-8"))
        count += 1
    return count


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        lines = generate(root)
        files = sum(1 for _ in root.rglob("*.py"))
        start = time.perf_counter()
        plan = plan_hybrid(root)
        plan_s = time.perf_counter() - start
        start = time.perf_counter()
        parse_everything(root)
        parse_s = time.perf_counter() - start
    print(f"plan benchmark: {lines} generated lines in {files} files + sample_legacy")
    print(f"  libcst parsing every file   {parse_s:8.2f} s")
    print(f"  migrate plan                {plan_s:8.2f} s  {plan_s / parse_s:.3f}x parse-all")
    print(f"  plan found {len(plan.findings)} findings, {len(plan.changes)} file changes")


if __name__ == "__main__":
    main()
