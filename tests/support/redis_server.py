"""Run a real ``redis-server`` (Debian's package) for a test, on 127.0.0.1 only.

The server gets its own configuration file, data folder and free port, never the system
service's. Persistence is off unless asked: ``stop()`` then ``start()`` is a Redis that
came back empty, the harder case for a shared denylist::

    with RedisServer(tmp_path) as redis:
        url = redis.url  # redis://127.0.0.1:<port>/0

``redis_binary()`` is None when the binary is not installed (tests skip then); CI installs
Debian's ``redis-server`` package (``.ci/run``).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests.support.server_process import BackgroundProcess, free_port, stop_process

STARTUP_TIMEOUT = 15.0


class RedisStartError(RuntimeError):
    """redis-server exited or did not answer PING in time; the message holds its log."""


def redis_binary() -> str | None:
    return shutil.which("redis-server")


SKIP_REASON = (
    "the redis-server binary is not installed (CI installs Debian's `redis-server` package "
    "in .ci/run; `apt-get install redis-server` to run these tests)"
)


class RedisServer(BackgroundProcess):
    """One redis-server process with its own config; stop and start again on the same port."""

    def __init__(self, folder: Path, *, persistent: bool = False) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.persistent = persistent
        self.log_path = folder / "redis.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _config(self) -> Path:
        lines = [
            "bind 127.0.0.1",
            f"port {self.port}",
            f"dir {self.folder}",
            "daemonize no",
            "protected-mode yes",
            f"logfile {self.log_path}",
            'save ""',
            f"appendonly {'yes' if self.persistent else 'no'}",
        ]
        path = self.folder / "redis.conf"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def start(self) -> None:
        binary = redis_binary()
        if binary is None:
            raise RedisStartError("redis-server is not installed")
        self._process = subprocess.Popen(
            [binary, str(self._config())],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self._pong():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RedisStartError(f"redis-server did not start:\n{self.log_text()}")
            time.sleep(0.05)

    def _pong(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL: the outage as a crash, not a clean shutdown."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            stop_process(process, 10.0)
