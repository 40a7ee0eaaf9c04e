"""Run `python -m migrate` as a user would: in a subprocess, on a real pty when asked."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

RUN_TIMEOUT = 120  # seconds: a hung command fails the test instead of hanging it


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str

    @property
    def first_line(self) -> str:
        lines = (self.stderr or self.stdout).splitlines()
        return lines[0] if lines else ""


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    """The test's environment, without colour or clock overrides; progress notes only
    after an hour (so a slow machine does not put one before the line a test reads)."""
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "OAUTH_MIGRATE_NOW")}
    return {**env, "OAUTH_MIGRATE_PROGRESS_AFTER": "3600", **(extra or {})}


def migrate(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> Ran:
    """``python -m migrate ARGS`` with stdin closed and stdout/stderr piped."""
    done = subprocess.run(
        [sys.executable, "-m", "migrate", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=_env(env),
        timeout=RUN_TIMEOUT,
        check=False,
    )
    return Ran(done.returncode, done.stdout, done.stderr)


def _drain(master: int) -> bytes:
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed its end
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def migrate_on_pty(*args: str, answer: str | None = None, env: dict[str, str] | None = None) -> Ran:
    """``python -m migrate ARGS`` with stdin and stdout on a real pty (stderr piped).

    ``answer`` is typed at the terminal before the command reads it (the pty buffers it).
    The pty's output (stdout and the terminal's echo) comes back as ``stdout``."""
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "migrate", *args],
            stdin=slave,
            stdout=slave,
            stderr=subprocess.PIPE,
            env=_env(env),
        )
        os.close(slave)
        slave = -1
        if answer is not None:
            os.write(master, answer.encode())
        with proc:
            output = _drain(master)
            stderr = proc.stderr.read() if proc.stderr else b""
            code = proc.wait(timeout=RUN_TIMEOUT)
    finally:
        if slave != -1:
            os.close(slave)
        os.close(master)
    return Ran(code, output.decode(errors="replace").replace("\r\n", "\n"), stderr.decode())
