"""Load generators for the end-to-end benchmark: wrk, or a pure-Python fallback.

Both send the same POST (URL, headers, body) over a fixed number of keep-alive
connections for a fixed time and return one `Measurement`: requests per second, p50 and
p99 latency, how many answers were not HTTP 200 or failed at the socket level (a figure
with any is invalid), and how much CPU the generator itself burnt, so that a reader can
tell when the generator, not the server, is the bottleneck. Nothing here asserts.
"""

from __future__ import annotations

import http.client
import math
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Target:
    """One POST, sent again and again; ``body_format`` has one ``%d`` for a request id.

    Every request gets its own JSON-RPC id: a stateful MCP session matches answers to
    requests by id, so concurrent requests sharing one id can wait forever for an answer.
    """

    url: str
    headers: Mapping[str, str]
    body_format: str

    def body(self, request_id: int) -> str:
        return self.body_format % request_id


@dataclass(frozen=True)
class Measurement:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    non_200: int  # answers whose status was not 200
    socket_errors: int  # connect, read, write errors and timeouts
    generator_cpu: float  # CPU seconds the generator used per wall second (1.0 = one core)

    @property
    def valid(self) -> bool:
        return self.requests > 0 and self.non_200 == 0 and self.socket_errors == 0


# -- wrk -------------------------------------------------------------------------------

WRK_TIMEOUT = "10s"  # a slow answer under load is latency, not an error
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def lua_string(text: str) -> str:
    """``text`` as a double-quoted Lua literal (printable ASCII only, which is all we send)."""
    if not all(" " <= char <= "~" for char in text):
        raise ValueError("only printable ASCII goes into the wrk script")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def wrk_script(target: Target) -> str:
    """A wrk Lua script: the POST, plus an exact count of non-200 answers printed by done()."""
    lines = ['wrk.method = "POST"', f"local body_format = {lua_string(target.body_format)}"]
    for name, value in target.headers.items():
        lines.append(f"wrk.headers[{lua_string(name)}] = {lua_string(value)}")
    # Request ids: each thread counts from its own base, so no two requests share one.
    # wrk's own "Non-2xx or 3xx" line lets a 202 or a 3xx through: count status ~= 200.
    lines += [
        "local threads = {}",
        "function setup(thread)",
        '  thread:set("id_base", #threads * 1000000000)',
        "  table.insert(threads, thread)",
        "end",
        "function init(args) non200 = 0; counter = id_base end",
        "function request()",
        "  counter = counter + 1",
        "  return wrk.format(nil, nil, nil, string.format(body_format, counter))",
        "end",
        "function response(status, headers, body)",
        "  if status ~= 200 then non200 = non200 + 1 end",
        "end",
        "function done(summary, latency, requests)",
        "  local total = 0",
        '  for _, thread in ipairs(threads) do total = total + thread:get("non200") end',
        '  io.write(string.format("non-200 responses: %d\\n", total))',
        "end",
    ]
    return "\n".join(lines) + "\n"


def _duration_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNIT_MS[match.group(2)]


def _search(pattern: str, output: str) -> re.Match[str]:
    match = re.search(pattern, output, re.MULTILINE)
    if match is None:
        raise ValueError(f"wrk output has no match for {pattern!r}:\n{output}")
    return match


def parse_wrk(output: str, *, generator_cpu: float = 0.0) -> Measurement:
    """Read the figures out of ``wrk --latency`` output (with our script's non-200 line)."""
    done = _search(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m)", output)
    socket = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    non_200 = re.search(r"^non-200 responses: (\d+)", output, re.MULTILINE)
    return Measurement(
        requests=int(done.group(1)),
        seconds=_duration_ms(done.group(2) + done.group(3)) / 1000.0,
        rps=float(_search(r"^Requests/sec:\s+([\d.]+)", output).group(1)),
        p50_ms=_duration_ms(_search(r"^\s+50%\s+(\S+)", output).group(1)),
        p99_ms=_duration_ms(_search(r"^\s+99%\s+(\S+)", output).group(1)),
        non_200=max(
            int(non_200.group(1)) if non_200 else 0, int(non_2xx.group(1)) if non_2xx else 0
        ),
        socket_errors=sum(int(n) for n in socket.groups()) if socket else 0,
        generator_cpu=generator_cpu,
    )


def wrk_path() -> str | None:
    return shutil.which("wrk")


def wrk_version() -> str:
    wrk = wrk_path()
    if wrk is None:
        return "absent"
    # `wrk --version` prints its banner and usage, and exits 1.
    answer = subprocess.run([wrk, "--version"], capture_output=True, text=True, check=False)
    banner = (answer.stdout + answer.stderr).split("\n", 1)[0]
    match = re.search(r"wrk \S+", banner)
    return match.group(0) if match else banner


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_wrk(target: Target, *, seconds: int, connections: int, threads: int = 1) -> Measurement:
    """Run wrk once against ``target``; the script lives in a private temporary folder."""
    wrk = wrk_path()
    if wrk is None:
        raise RuntimeError("wrk is not installed")
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        script = Path(tmp) / "post.lua"
        script.write_text(wrk_script(target), encoding="ascii")
        argv = [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
        argv += ["--timeout", WRK_TIMEOUT, "-s", str(script), target.url]
        cpu_before, start = _children_cpu(), time.monotonic()
        answer = subprocess.run(argv, capture_output=True, text=True, check=False)
        wall, cpu = time.monotonic() - start, _children_cpu() - cpu_before
    if answer.returncode != 0:
        output = (answer.stderr or answer.stdout).strip()[-2000:]
        raise RuntimeError(f"wrk exited {answer.returncode}: {output}")
    return parse_wrk(answer.stdout, generator_cpu=cpu / wall)


# -- the pure-Python fallback ----------------------------------------------------------


@dataclass
class _Tally:
    latencies: list[float]
    non_200: int = 0
    errors: int = 0


def _drive(target: Target, deadline: float, tally: _Tally, id_base: int) -> None:
    """One keep-alive connection, one request at a time, until ``deadline``."""
    parts = urlsplit(target.url)
    request_id = id_base
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        while time.monotonic() < deadline:
            request_id += 1
            body = target.body(request_id).encode()
            start = time.perf_counter()
            try:
                connection.request("POST", parts.path, body=body, headers=dict(target.headers))
                answer = connection.getresponse()
                answer.read()
            except (OSError, http.client.HTTPException):
                tally.errors += 1
                connection.close()  # http.client reconnects on the next request
                continue
            tally.latencies.append((time.perf_counter() - start) * 1000.0)
            if answer.status != 200:
                tally.non_200 += 1
    finally:
        connection.close()


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list (0.0 when it is empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def run_python(target: Target, *, seconds: float, connections: int) -> Measurement:
    """``connections`` threads, each with its own http.client keep-alive connection."""
    tallies = [_Tally([]) for _ in range(connections)]
    cpu_before, start = time.process_time(), time.monotonic()
    deadline = start + seconds
    workers = [
        threading.Thread(target=_drive, args=(target, deadline, tally, n * 10**9), daemon=True)
        for n, tally in enumerate(tallies)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    wall, cpu = time.monotonic() - start, time.process_time() - cpu_before
    latencies = sorted(value for tally in tallies for value in tally.latencies)
    return Measurement(
        requests=len(latencies),
        seconds=wall,
        rps=len(latencies) / wall,
        p50_ms=percentile(latencies, 0.50),
        p99_ms=percentile(latencies, 0.99),
        non_200=sum(tally.non_200 for tally in tallies),
        socket_errors=sum(tally.errors for tally in tallies),
        generator_cpu=cpu / wall,
    )


# -- a second process on the CPU -------------------------------------------------------


@contextmanager
def cpu_load(enabled: bool) -> Iterator[None]:
    """While inside, a child process spins on one core (when ``enabled``)."""
    if not enabled:
        yield
        return
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        spinner.kill()
        spinner.wait()
