"""The servers the end-to-end benchmark migrates, and how to start, authorize and call them.

Each server is copied into a temporary folder (the repository's copy is never touched),
started from its START line as a real subprocess on a free 127.0.0.1 port, given tokens
through its own OAuth endpoints (registration, PKCE S256, code exchange) and called at
POST /mcp. `python -m migrate` then moves the copy through its phases.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote_plus, urlsplit

import httpx

from benchmarks.loadgen import Target

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "servers"
METADATA_PATH = "/.well-known/oauth-authorization-server"
REDIRECT_URI = "http://127.0.0.1:53682/callback"  # nothing listens: the code is in Location
MCP_ACCEPT = "application/json, text/event-stream"
PROTOCOL_VERSION = "2025-06-18"
TOOLS_LIST = '{"jsonrpc": "2.0", "id": %d, "method": "tools/list", "params": {}}'
COPY_IGNORE = shutil.ignore_patterns(
    "__pycache__", "*.pyc", ".pytest_cache", ".oauth-migration", "oauth_migration"
)


@dataclass(frozen=True)
class ServerSpec:
    """A server to migrate: what to copy, where its START line is, how its store is set."""

    name: str
    description: str
    source: Path  # copied to <root>/<copy_as> (or to <root> itself when copy_as is "")
    copy_as: str
    start_file: Path
    persistent: bool  # do opaque tokens survive the restart that deploys the hybrid code?
    store_env: Mapping[str, str]  # values may name {root}, the copy's folder
    # Issue 13's figures: the ratio to legacy each row is measured against (the last one
    # measured before this benchmark ran in rounds), and the final phase's target.
    baseline: Mapping[str, float] = field(default_factory=dict)
    final_target: float = 1.1

    def copy_to(self, root: Path) -> None:
        shutil.copytree(
            self.source,
            root / self.copy_as if self.copy_as else root,
            ignore=COPY_IGNORE,
            copy_function=shutil.copyfile,
        )
        requirements = self.source / "requirements.txt"
        if self.copy_as and requirements.is_file():  # a package's project file: at the root
            shutil.copyfile(requirements, root / "requirements.txt")

    def env(self, root: Path) -> dict[str, str]:
        return {name: value.format(root=root) for name, value in self.store_env.items()}


SERVERS = {
    "sample": ServerSpec(
        name="sample_legacy",
        description="Starlette + MCP SDK (stateful), uvicorn, in-memory store",
        source=REPO / "sample_legacy",
        copy_as="sample_legacy",
        start_file=REPO / "sample_legacy" / "START",
        persistent=False,
        store_env={"LOG_LEVEL": "warning"},
        baseline={"hybrid JWT": 0.97, "final JWT": 0.87},
    ),
    "ledger": ServerSpec(
        name="ledger (tests/fixtures/servers/fastapi_asyncrepo)",
        description="FastAPI, hand-written JSON-RPC, uvicorn, SQLite store",
        source=FIXTURES / "fastapi_asyncrepo",
        copy_as="",
        start_file=FIXTURES / "fastapi_asyncrepo" / "START",
        persistent=True,
        store_env={"LEDGER_DB": "{root}/ledger.sqlite", "LOG_LEVEL": "warning"},
        baseline={"hybrid JWT": 1.13, "hybrid old opaque": 1.13, "final JWT": 1.91},
        final_target=1.3,
    ),
    "fieldnotes": ServerSpec(
        name="fieldnotes (tests/fixtures/servers/flask_blueprint)",
        description="Flask, hand-written JSON-RPC, waitress, SQLite store",
        source=FIXTURES / "flask_blueprint",
        copy_as="",
        start_file=FIXTURES / "flask_blueprint" / "START",
        persistent=True,
        store_env={"TOKEN_DB": "{root}/tokens.db"},
        final_target=1.3,
    ),
}
# What `make bench` runs: the sample and one SQL-backed fixture keep it under 2 minutes.
DEFAULT_SERVERS = ("sample", "ledger")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """One server subprocess on a fixed free port; its output goes to a log file."""

    def __init__(self, spec: ServerSpec, root: Path, log: Path) -> None:
        argv = shlex.split(spec.start_file.read_text(encoding="utf-8").strip())
        self.argv = [sys.executable if argv[0] in ("python", "python3") else argv[0], *argv[1:]]
        self.root = root
        self.log = log
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        env = {"PORT": str(self.port), "BASE_URL": self.base_url, **spec.env(root)}
        self.env = {**os.environ, **env}
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                self.argv, cwd=self.root, env=self.env, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            self._wait_until_ready()
        except BaseException:
            self.__exit__()
            raise
        return self

    @property
    def pid(self) -> int | None:
        """The running server's process id (None when it is not running)."""
        return self._process.pid if self._process is not None else None

    def _wait_until_ready(self, timeout: float = 60.0) -> None:
        assert self._process is not None
        deadline = time.monotonic() + timeout
        while self._process.poll() is None and time.monotonic() < deadline:
            try:
                if httpx.get(self.base_url + METADATA_PATH, timeout=2).status_code < 500:
                    return
            except httpx.TransportError:
                pass  # not listening yet
            time.sleep(0.1)
        tail = self.log.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise RuntimeError(f"{shlex.join(self.argv)} did not start; its log ends:\n{tail}")

    def __exit__(self, *exc_info: object) -> None:
        """SIGTERM (the runtime flushes its metrics on the way out), SIGKILL after 15 s."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- tokens ----------------------------------------------------------------------------


def _checked(response: httpx.Response, *statuses: int) -> httpx.Response:
    if response.status_code not in statuses:
        request = response.request
        raise RuntimeError(f"{request.method} {request.url} -> {response.status_code}")
    return response


def access_token(http: httpx.Client, base_url: str) -> str:
    """A fresh access token: register a client, authorize with PKCE S256, exchange the code."""
    meta: dict[str, Any] = _checked(http.get(base_url + METADATA_PATH), 200).json()
    registration = {
        "client_name": "oauth-migrate bench",
        "redirect_uris": [REDIRECT_URI],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_post",
    }
    register_url = meta.get("registration_endpoint", base_url + "/register")
    client: dict[str, Any] = _checked(http.post(register_url, json=registration), 200, 201).json()
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    query = {
        "response_type": "code",
        "client_id": client["client_id"],
        "redirect_uri": REDIRECT_URI,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": secrets.token_urlsafe(8),
    }
    redirect = _checked(http.get(meta["authorization_endpoint"], params=query), 302, 303, 307)
    code = parse_qs(urlsplit(redirect.headers["location"]).query)["code"][0]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
    }
    headers = _authenticate(client, form)
    exchange = http.post(meta["token_endpoint"], data=form, headers=headers)
    token: str = _checked(exchange, 200).json()["access_token"]
    return token


def _authenticate(client: Mapping[str, Any], form: dict[str, str]) -> dict[str, str]:
    """Add the client's credentials the way it was registered; return the headers to send."""
    method = client.get("token_endpoint_auth_method", "client_secret_post")
    client_id, secret = str(client["client_id"]), client.get("client_secret")
    if method == "client_secret_basic" and secret:
        pair = f"{quote_plus(client_id)}:{quote_plus(str(secret))}"  # RFC 6749 2.3.1
        return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode("ascii")}
    form["client_id"] = client_id
    if secret:
        form["client_secret"] = str(secret)
    return {}


# -- the MCP call under load -----------------------------------------------------------


def tools_list_target(http: httpx.Client, base_url: str, token: str) -> Target:
    """The POST /mcp tools/list to measure, after ``initialize`` when the server keeps sessions.

    One call is made and checked first (200 and the ``whoami`` tool in the answer), so a
    figure is never a measurement of refusals.
    """
    url = base_url + "/mcp"
    headers = {
        "Accept": MCP_ACCEPT,
        "Content-Type": "application/json",
        "Authorization": f"Bearer {token}",
    }
    hello = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "oauth-migrate bench", "version": "0"},
        },
    }
    answer = _checked(http.post(url, content=json.dumps(hello), headers=headers), 200)
    session = answer.headers.get("mcp-session-id")
    if session:
        headers |= {"Mcp-Session-Id": session, "MCP-Protocol-Version": PROTOCOL_VERSION}
    done = json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"})
    _checked(http.post(url, content=done, headers=headers), 200, 202, 204)
    probe = _checked(http.post(url, content=TOOLS_LIST % 1, headers=headers), 200)
    if '"whoami"' not in probe.text:
        raise RuntimeError(f"tools/list at {url} did not list whoami")
    return Target(url=url, headers=headers, body_format=TOOLS_LIST)


def refused(http: httpx.Client, base_url: str, token: str) -> bool:
    """Whether /mcp answers 401 to ``token`` (an opaque token after finalize, say)."""
    headers = {"Accept": MCP_ACCEPT, "Content-Type": "application/json"}
    headers["Authorization"] = f"Bearer {token}"
    answer = http.post(base_url + "/mcp", content=TOOLS_LIST % 1, headers=headers)
    return answer.status_code == 401


# -- the kit ---------------------------------------------------------------------------


def migrate(*args: str, env: Mapping[str, str] | None = None) -> None:
    """``python -m migrate ARGS``; raise with its output unless it exits 0 (or 2 for plan)."""
    answer = subprocess.run(
        [sys.executable, "-m", "migrate", *args],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    allowed = (0, 2) if args[0] == "plan" else (0,)
    if answer.returncode not in allowed:
        output = (answer.stdout + answer.stderr)[-3000:]
        raise RuntimeError(f"migrate {args[0]} exited {answer.returncode}:\n{output}")
