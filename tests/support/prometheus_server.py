"""Run a real Prometheus server (the ``prometheus`` binary) for a test, on 127.0.0.1 only.

The server gets its own configuration file and data folder in a temporary folder and its
own free port, so it never depends on (or disturbs) a system-wide Prometheus service::

    targets = ["127.0.0.1:8001", "127.0.0.1:8002"]
    with PrometheusServer(tmp_path, targets, metrics_path="/metrics") as prometheus:
        prometheus.wait_for_targets_up()
        rows = prometheus.query("sum(up)")

``prometheus_binary()`` is None when the binary is not installed (tests skip then); CI
installs Debian's ``prometheus`` package (``.ci/run``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import httpx

from tests.support.server_process import BackgroundProcess, free_port, stop_process

T = TypeVar("T")

STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
_PORT_ATTEMPTS = 3


class PrometheusError(RuntimeError):
    """Prometheus did not start, stopped, or answered a query with an error."""


def prometheus_binary() -> str | None:
    """The path of the ``prometheus`` binary on PATH, or None."""
    return shutil.which("prometheus")


def prometheus_version(binary: str) -> str:
    """The first line of ``prometheus --version`` (e.g. ``prometheus, version 2.42.0+ds``)."""
    completed = subprocess.run(
        [binary, "--version"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    lines = (completed.stdout or completed.stderr).splitlines()
    return lines[0].strip() if lines else "unknown version"


def scrape_config(
    targets: Sequence[str], *, metrics_path: str, interval: str = "1s", job: str = "replicas"
) -> str:
    """A prometheus.yml with one static job scraping ``targets`` at ``metrics_path``.

    JSON is YAML, so the document is written with the json module: nothing to escape.
    """
    document = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "scrape_configs": [
            {
                "job_name": job,
                "metrics_path": metrics_path,
                "scrape_interval": interval,
                "scrape_timeout": interval,
                "static_configs": [{"targets": list(targets)}],
            }
        ],
    }
    return json.dumps(document, indent=2) + "\n"


class PrometheusServer(BackgroundProcess):
    """One ``prometheus`` process with its own config, data folder, log and port."""

    def __init__(
        self,
        workdir: Path,
        targets: Sequence[str],
        *,
        metrics_path: str,
        binary: str | None = None,
        interval: str = "1s",
    ) -> None:
        found = binary or prometheus_binary()
        if found is None:
            raise PrometheusError("the prometheus binary is not installed")
        self.binary = found
        self.workdir = workdir
        self.targets = list(targets)
        self.config_path = workdir / "prometheus.yml"
        self.data_dir = workdir / "data"
        self.log_path = workdir / "prometheus.log"
        self.config_path.write_text(
            scrape_config(self.targets, metrics_path=metrics_path, interval=interval),
            encoding="utf-8",
        )
        self.port = 0
        self.url = ""
        self._process: subprocess.Popen[bytes] | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Start Prometheus; return once ``/-/ready`` answers 200 (retried on a taken port)."""
        for attempt in range(1, _PORT_ATTEMPTS + 1):
            self.port = free_port()
            self.url = f"http://127.0.0.1:{self.port}"
            self._spawn()
            try:
                self._wait_until_ready()
                return
            except PrometheusError:
                self.stop()
                # Another process may have taken the free port in between: try another one.
                if attempt == _PORT_ATTEMPTS or "address already in use" not in self.log_text():
                    raise

    def _spawn(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            self.binary,
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.data_dir}",
            f"--web.listen-address=127.0.0.1:{self.port}",
        ]
        with self.log_path.open("ab") as log:
            log.write(f"--- {' '.join(argv)}\n".encode())
            log.flush()
            self._process = subprocess.Popen(
                argv,
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def _wait_until_ready(self) -> None:
        process = self._process
        assert process is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT
        with httpx.Client(timeout=2.0) as http:
            while True:
                status = process.poll()
                if status is not None:
                    raise PrometheusError(
                        f"prometheus exited with status {status} before it was ready:\n"
                        + self.log_text()
                    )
                try:
                    if http.get(self.url + "/-/ready").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise PrometheusError(
                        f"prometheus was not ready within {STARTUP_TIMEOUT} s:\n" + self.log_text()
                    )
                time.sleep(0.1)

    def stop(self) -> None:
        """Terminate Prometheus (SIGTERM), then kill it if it does not exit in time."""
        process, self._process = self._process, None
        if process is not None:
            stop_process(process, STOP_TIMEOUT)

    # -- the HTTP API ------------------------------------------------------------------

    def api(self, path: str, params: dict[str, str] | None = None) -> Any:
        """GET ``/api/v1/<path>``; the ``data`` member of a successful answer."""
        with httpx.Client(timeout=10.0) as http:
            response = http.get(f"{self.url}/api/v1/{path}", params=params)
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200 or not isinstance(body, dict):
            raise PrometheusError(
                f"GET {response.request.url} -> {response.status_code}: {response.text[:500]}"
            )
        if body.get("status") != "success":
            raise PrometheusError(f"GET {response.request.url}: {body}")
        return body["data"]

    def query(self, expression: str) -> list[dict[str, Any]]:
        """The instant-vector result of ``expression`` (``[{"metric": ..., "value": ...}]``)."""
        data = self.api("query", {"query": expression})
        result: list[dict[str, Any]] = data["result"]
        return result

    def value(self, expression: str) -> float | None:
        """The single value of ``expression`` (one row expected), or None when it is empty."""
        rows = self.query(expression)
        if not rows:
            return None
        if len(rows) != 1:
            raise PrometheusError(f"{expression} gave {len(rows)} rows, not one: {rows}")
        return float(rows[0]["value"][1])

    def targets_health(self) -> dict[str, str]:
        """``host:port -> health`` ("up", "down", "unknown") of every active target."""
        data = self.api("targets", {"state": "active"})
        return {
            str(target["labels"].get("instance", "")): str(target.get("health", ""))
            for target in data.get("activeTargets", [])
        }

    def wait_for(self, probe: Callable[[], T | None], what: str, *, timeout: float = 20.0) -> T:
        """Poll ``probe`` every 0.2 s until it returns something other than None."""
        deadline = time.monotonic() + timeout
        last: object = None
        while True:
            try:
                found = probe()
            except (PrometheusError, httpx.HTTPError) as problem:
                found, last = None, problem
            if found is not None:
                return found
            if time.monotonic() > deadline:
                raise PrometheusError(
                    f"{what}: not within {timeout} s (last problem: {last});\n"
                    f"targets: {self._health_or_problem()}\nprometheus log:\n{self.log_text(3000)}"
                )
            time.sleep(0.2)

    def wait_for_targets_up(self, timeout: float = 20.0) -> None:
        """Until every configured target has been scraped successfully."""

        def all_up() -> bool | None:
            health = self.targets_health()
            return True if all(health.get(t) == "up" for t in self.targets) else None

        self.wait_for(all_up, f"targets {self.targets} up", timeout=timeout)

    def _health_or_problem(self) -> str:
        try:
            return str(self.targets_health())
        except (PrometheusError, httpx.HTTPError) as problem:
            return f"unavailable ({problem})"
