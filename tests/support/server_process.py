"""Run a server under test as a real subprocess on a free 127.0.0.1 port.

Generic over servers: give the command (argv), the folder to run it in and environment
overrides. The server gets ``PORT`` and ``BASE_URL`` (``http://127.0.0.1:<port>``) and
must answer HTTP at ``ready_path`` once it is up. Its output goes to a log file, which
is quoted whenever it fails to start. Restarting keeps the port and the environment, so
a test can check what survives a restart::

    with ServerProcess([sys.executable, "-m", "sample_legacy"], cwd=ROOT, log_dir=tmp) as server:
        httpx.get(server.base_url + "/.well-known/oauth-authorization-server")
        server.restart()
"""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

DEFAULT_READY_PATH = "/.well-known/oauth-authorization-server"


class ServerStartError(RuntimeError):
    """The server exited or did not answer in time; the message holds its log."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def command_from_start_file(start_file: Path) -> list[str]:
    """The argv in a one-line START file, with ``python`` replaced by this interpreter."""
    argv = shlex.split(start_file.read_text(encoding="utf-8").strip())
    if argv and argv[0] in ("python", "python3"):
        argv[0] = sys.executable
    return argv


def stop_process(process: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM, then SIGKILL when ``process`` has not exited within ``timeout`` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class BackgroundProcess:
    """A started-and-stopped helper process with a log file: a context manager whose log
    tail goes into failure messages (subclasses set ``log_path``, ``start`` and ``stop``)."""

    log_path: Path

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def log_text(self, limit: int = 8000) -> str:
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-limit:]

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class ServerProcess(BackgroundProcess):
    """One server subprocess: start, wait until ready, stop, restart on the same port."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        log_dir: Path,
        env: Mapping[str, str | None] | None = None,
        port: int | None = None,
        ready_path: str = DEFAULT_READY_PATH,
        startup_timeout: float = 30.0,
        stop_timeout: float = 10.0,
    ) -> None:
        """``env`` overrides the inherited environment; a value of None removes the variable."""
        self.argv = list(argv)
        self.cwd = cwd
        self.port = port if port is not None else free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.ready_path = ready_path
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.log_path = log_dir / f"server-{self.port}.log"
        self.env = self._build_env(env or {})
        self._process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def _build_env(self, overrides: Mapping[str, str | None]) -> dict[str, str]:
        env = dict(os.environ)
        env["PORT"] = str(self.port)
        env["BASE_URL"] = self.base_url
        env["PYTHONUNBUFFERED"] = "1"
        for name, value in overrides.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        return env

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def log_text(self) -> str:
        """Everything the server wrote so far, over all its starts."""
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def start(self) -> None:
        """Start the server; return once ``ready_path`` answers, else raise ServerStartError."""
        if self.running:
            raise RuntimeError(f"server on {self.base_url} is already running")
        self.starts += 1
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            banner = f"--- start #{self.starts}: {shlex.join(self.argv)} (cwd {self.cwd})\n"
            log.write(banner.encode())
            log.flush()
            self._process = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_until_ready(self) -> None:
        assert self._process is not None
        url = self.base_url + self.ready_path
        deadline = time.monotonic() + self.startup_timeout
        with httpx.Client(timeout=2.0) as http:
            while True:
                exit_code = self._process.poll()
                if exit_code is not None:
                    raise ServerStartError(
                        f"server exited with status {exit_code} before answering {url}:\n"
                        + self.log_text()
                    )
                try:
                    if http.get(url).status_code < 500:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise ServerStartError(
                        f"server did not answer {url} within {self.startup_timeout} s:\n"
                        + self.log_text()
                    )
                time.sleep(0.05)

    def stop(self) -> None:
        """Terminate the server (SIGTERM), then kill it if it does not exit in time."""
        process, self._process = self._process, None
        if process is not None:
            stop_process(process, self.stop_timeout)

    def restart(self) -> None:
        """Stop and start again with the same port and environment."""
        self.stop()
        self.start()
