"""One cached virtualenv per set of requirements, for servers on a given MCP SDK version.

mcp 1.x and 2.x cannot share an environment (2.x removed ``mcp.server.fastmcp``), and the
bearer middleware changed inside 1.x, so each SDK version a test covers gets its own
venv with the runtime's own dependencies beside it. Venvs are kept between runs under
``${XDG_CACHE_HOME:-~/.cache}/oauth-migrate-tests/venvs/<sha of the requirements>`` and
built under a file lock, so parallel test processes build each one once. A venv counts
as built only once pip has succeeded (a ``.complete`` marker); a half-built one is
removed and built again.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from migrate.emit import RUNTIME_REQUIREMENTS

COMPLETE = ".complete"
INSTALL_TIMEOUT = 900.0


class SdkVenvUnavailable(RuntimeError):
    """pip could not build the venv; the message says why (for a skip reason)."""


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "oauth-migrate-tests" / "venvs"


def requirement_set(requirements: Sequence[str]) -> list[str]:
    """The requirements plus the runtime's own, in a stable order."""
    return sorted({*requirements, *RUNTIME_REQUIREMENTS})


def venv_key(requirements: Sequence[str]) -> str:
    text = "\n".join([sys.version.split()[0], *requirement_set(requirements)])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def sdk_python(requirements: Sequence[str]) -> Path:
    """The interpreter of a venv holding ``requirements``; built on first use.

    Raises SdkVenvUnavailable when pip fails (no network, no such version).
    """
    folder = cache_root() / venv_key(requirements)
    python = folder / "bin" / "python"
    if (folder / COMPLETE).exists():
        return python
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / COMPLETE).exists():
            _build(folder, requirement_set(requirements))
    return python


def _build(folder: Path, requirements: list[str]) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    _run([sys.executable, "-m", "venv", str(folder)], "venv")
    pip = [str(folder / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    _run([*pip, *requirements], "pip install " + " ".join(requirements))
    (folder / COMPLETE).write_text("\n".join(requirements) + "\n", encoding="utf-8")


def _run(argv: list[str], what: str) -> None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SdkVenvUnavailable(f"{what}: {exc}") from exc
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise SdkVenvUnavailable(f"{what} failed: {' | '.join(tail)}")
