"""The whole life cycle of one server, walked once and recorded for the tests to check.

``Lifecycle.walk()`` copies a legacy server into a temporary folder and takes it through
every phase the kit has, with real processes on a free 127.0.0.1 port and the kit run as
``python -m migrate``: legacy (opaque tokens on a persistent store) -> ``apply`` -> hybrid
(both kinds accepted, metrics counted) -> ``status`` not ready -> ``finalize`` refused ->
(``OAUTH_MIGRATE_NOW`` past the earliest time) -> ``status`` ready -> ``finalize`` ->
final (store kept, then emptied) -> ``rollback`` -> hybrid again.

The walk asserts nothing about the kit: it records what each step answered (a value, or a
:class:`Failure` saying what went wrong), and each test checks one observation. Only a
step it cannot go on without (a server that does not start, a token endpoint that fails)
stops it; the tests that need a later observation then fail quoting where it stopped.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from migrate.emit import STATE_DIR
from migrate.status import ENV_NOW
from shims.metrics import Metrics, MetricsReport, MetricsUnavailable, read_metrics
from tests.migrate.e2e_support import (
    FIXTURE_SERVERS,
    MIGRATE_TIMEOUT,
    CommandResult,
    clean_env,
    copy_tree,
    fetch_json,
    run_command,
)
from tests.migrate.tree_support import sample_server
from tests.sample_legacy.launch import HERMETIC_ENV
from tests.support.oauth_flow import (
    OAuthFlow,
    RegisteredClient,
    TokenSet,
    basic_authorization,
    looks_like_jwt,
    send_initialize,
    whoami_with,
)
from tests.support.server_process import ServerProcess, command_from_start_file

T = TypeVar("T")

METRICS_FILE = f"{STATE_DIR}/metrics.sqlite3"
# Files the servers write while running: not part of the tree a rollback must restore.
RUNTIME_FILES = ("metrics.sqlite3", "denylist.sqlite3")
# The runtime flushes its counts every 5 s (and at exit); give it a little more.
METRICS_DEADLINE = 12.0


# -- the servers -----------------------------------------------------------------------


@dataclass(frozen=True)
class LifecycleCase:
    """One legacy server with a persistent token store."""

    name: str
    user: str  # the demo user every authorization is granted to
    copy: Callable[[Path], Path]  # workdir -> the folder START runs from
    start_file: str  # relative to that folder
    store_env: Callable[[Path], dict[str, str | None]]  # store folder -> environment


def _copy_flask_blueprint(workdir: Path) -> Path:
    return copy_tree(FIXTURE_SERVERS / "flask_blueprint", workdir / "server")


SAMPLE = LifecycleCase(
    name="sample_legacy",
    user="alice",
    copy=sample_server,
    start_file="sample_legacy/START",
    # Tokens and registered clients both live in this one SQLite file.
    store_env=lambda store: {**HERMETIC_ENV, "SAMPLE_TOKEN_DB": str(store / "tokens.sqlite3")},
)
FLASK_BLUEPRINT = LifecycleCase(
    name="flask_blueprint",
    user="kofi",
    copy=_copy_flask_blueprint,
    start_file="START",
    # Tokens, refresh tokens and registered clients all live in this one SQLite file.
    store_env=lambda store: {"TOKEN_DB": str(store / "tokens.db"), "HOST": None},
)
CASES = [SAMPLE, FLASK_BLUEPRINT]


# -- what the walk records -------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    """What went wrong getting one observation (the exception, the server log's tail)."""

    text: str


@dataclass(frozen=True)
class Answer:
    """One HTTP answer, kept after its client is closed."""

    method: str
    url: str
    status: int
    headers: dict[str, str]
    text: str

    @classmethod
    def of(cls, response: httpx.Response) -> Answer:
        return cls(
            response.request.method,
            str(response.request.url),
            response.status_code,
            {k.lower(): v for k, v in response.headers.items()},
            response.text,
        )

    def json(self) -> Any:
        return json.loads(self.text)

    def describe(self) -> str:
        return f"{self.method} {self.url} -> {self.status}: {self.text[:800]}"


@dataclass(frozen=True)
class Grant:
    client: RegisteredClient
    tokens: TokenSet


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` but caches and the files running servers write."""
    files = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if not path.is_file() or "__pycache__" in rel.parts:
            continue
        if rel.parts[0] == STATE_DIR and path.name.startswith(RUNTIME_FILES):
            continue
        files[rel.as_posix()] = path.read_bytes()
    return files


def snapshot_difference(before: Mapping[str, bytes], after: Mapping[str, bytes]) -> list[str]:
    """``changed: path`` / ``missing: path`` / ``added: path`` lines, sorted."""
    lines = [f"missing: {p}" for p in sorted(set(before) - set(after))]
    lines += [f"added: {p}" for p in sorted(set(after) - set(before))]
    lines += [f"changed: {p}" for p in sorted(set(before) & set(after)) if before[p] != after[p]]
    return lines


def run_kit(*args: str, cwd: Path, now: float | None = None) -> CommandResult:
    """``python -m migrate ARGS``; ``now`` sets OAUTH_MIGRATE_NOW (else it is unset)."""
    return run_command(
        [sys.executable, "-m", "migrate", *args],
        cwd=cwd,
        env=clean_env({ENV_NOW: None if now is None else repr(now)}),
        timeout=MIGRATE_TIMEOUT,
    )


def introspect(
    http: httpx.Client, base_url: str, token: str, client: RegisteredClient
) -> httpx.Response:
    """POST the token to the introspection endpoint the metadata names, with Basic auth."""
    metadata = OAuthFlow(base_url, http).metadata
    endpoint = metadata.get("introspection_endpoint")
    if not isinstance(endpoint, str):
        raise AssertionError(f"no introspection_endpoint in {metadata}")
    assert client.client_secret is not None
    headers = {"Authorization": basic_authorization(client.client_id, client.client_secret)}
    return http.post(endpoint, data={"token": token}, headers=headers)


def wait_for_metrics(path: Path, deadline: float = METRICS_DEADLINE) -> MetricsReport:
    """The metrics report once it counts an accepted JWT and an accepted opaque token.

    The walk validates the opaque token before the JWT, so a flush holding the JWT holds
    every validation before it too: what the report says of clients is then final.
    """
    give_up = time.monotonic() + deadline
    problem = "never read"
    while True:
        try:
            report = read_metrics(path)
            if report.total[("jwt", "accepted")] and report.total[("opaque", "accepted")]:
                return report
            problem = f"totals {dict(report.total)}"
        except MetricsUnavailable as unavailable:
            problem = str(unavailable)
        if time.monotonic() > give_up:
            raise AssertionError(f"{path} did not count both kinds within {deadline} s: {problem}")
        time.sleep(0.25)


# -- the walk --------------------------------------------------------------------------


@dataclass
class Lifecycle:
    """One server walked through every phase; ``observed`` maps a name to what came back."""

    case: LifecycleCase
    workdir: Path
    root: Path = field(init=False)
    store: Path = field(init=False)
    server: ServerProcess = field(init=False)
    observed: dict[str, Any] = field(default_factory=dict)
    stopped: str | None = None  # where and why the walk could not go on

    def __post_init__(self) -> None:
        self.root = self.case.copy(self.workdir)
        self.store = self.workdir / "store"
        self.store.mkdir()
        self.server = ServerProcess(
            command_from_start_file(self.root / self.case.start_file),
            cwd=self.root,
            log_dir=self.workdir,
            env=self.case.store_env(self.store),
        )

    @property
    def mcp_url(self) -> str:
        return self.server.base_url + "/mcp"

    # -- reading -------------------------------------------------------------------------

    def get(self, name: str) -> Any:
        """The observation ``name``; the test fails, saying why, when there is none."""
        if name not in self.observed:
            pytest.fail(f"{self.case.name}: {name!r} was not observed; {self.stopped}")
        value = self.observed[name]
        if isinstance(value, Failure):
            pytest.fail(f"{self.case.name}: {name}: {value.text}")
        return value

    # -- recording -----------------------------------------------------------------------

    def _failure(self, problem: BaseException) -> Failure:
        log = self.server.log_text()[-3000:]
        text = "".join(traceback.format_exception_only(problem)).strip()
        return Failure(f"{text}\n--- server log (tail)\n{log}")

    def probe(self, name: str, action: Callable[[], T]) -> T | None:
        """Record what ``action`` returns, or the failure; the walk goes on either way."""
        try:
            value = action()
        except (
            AssertionError,
            httpx.HTTPError,
            ValueError,
            KeyError,
            MetricsUnavailable,
        ) as problem:
            self.observed[name] = self._failure(problem)
            return None
        self.observed[name] = value
        return value

    def need(self, name: str, action: Callable[[], T]) -> T:
        """As :meth:`probe`, but the walk cannot go on without the value."""
        value = self.probe(name, action)
        failure = self.observed[name]
        if isinstance(failure, Failure):
            raise WalkStopped(f"{name} failed: {failure.text}")
        assert value is not None
        return value

    @contextmanager
    def running(self) -> Iterator[httpx.Client]:
        """The server started (stopped again on the way out, also on failure)."""
        self.server.start()
        try:
            with httpx.Client(timeout=15.0) as http:
                yield http
        finally:
            self.server.stop()

    # -- the phases ----------------------------------------------------------------------

    def walk(self) -> None:
        try:
            for phase in (
                self._legacy,
                self._apply,
                self._hybrid,
                self._status_and_finalize,
                self._final,
                self._final_with_empty_store,
                self._rollback,
            ):
                phase()
        except WalkStopped as stop:
            self.stopped = f"the walk stopped: {stop}"
        except Exception as problem:  # a server that did not start, a timeout, a bug here
            self.stopped = f"the walk stopped: {self._failure(problem).text}"
        finally:
            self.server.stop()

    def _grant(self, flow: OAuthFlow, client: RegisteredClient | None = None) -> Grant:
        client, tokens = flow.obtain_tokens(client, resource=self.mcp_url)
        return Grant(client, tokens)

    def _whoami(self, http: httpx.Client, token: str) -> Callable[[], str]:
        return lambda: whoami_with(http, self.mcp_url, token)

    def _initialize(self, http: httpx.Client, token: str) -> Callable[[], Answer]:
        return lambda: Answer.of(send_initialize(http, self.mcp_url, token))

    def _introspect(
        self, http: httpx.Client, token: str, client: RegisteredClient
    ) -> Callable[[], Answer]:
        return lambda: Answer.of(introspect(http, self.server.base_url, token, client))

    def _legacy(self) -> None:
        with self.running() as http:
            flow = OAuthFlow(self.server.base_url, http)
            legacy = self.need("legacy.grant", lambda: self._grant(flow))
            if looks_like_jwt(legacy.tokens.access_token):
                raise WalkStopped("the legacy server already issues JWTs")
            self.need("legacy.whoami", self._whoami(http, legacy.tokens.access_token))

    def _apply(self) -> None:
        applied = run_kit("apply", str(self.root), "--yes", "--allow-dirty", cwd=self.workdir)
        self.observed["apply"] = applied
        if applied.returncode != 0:
            raise WalkStopped(f"migrate apply failed:\n{applied.describe()}")

    def _hybrid(self) -> None:
        legacy: Grant = self.observed["legacy.grant"]
        metrics_file = self.root / METRICS_FILE
        report: MetricsReport | None = None
        with self.running() as http:
            flow = OAuthFlow(self.server.base_url, http)
            opaque = legacy.tokens.access_token
            self.probe("hybrid.opaque.whoami", self._whoami(http, opaque))
            jwt_grant = self.need("hybrid.jwt.grant", lambda: self._grant(flow, legacy.client))
            self.probe("hybrid.jwt.whoami", self._whoami(http, jwt_grant.tokens.access_token))
            # Read while the server runs, after its flush every 5 s: the counts tests check
            # do not depend on the flush at exit, which test_lifecycle checks on its own.
            report = self.probe("hybrid.metrics", lambda: wait_for_metrics(metrics_file))
            if report is not None:
                # One more opaque validation right before the stop, for the flush at exit.
                self.observed["hybrid.metrics.before_stop"] = report.total
                self.probe("hybrid.opaque.whoami_before_stop", self._whoami(http, opaque))
        # The server is stopped now (SIGTERM, as a service manager stops it).
        if report is not None:
            self.probe("hybrid.metrics.after_stop", lambda: read_metrics(metrics_file).total)

    def _status_and_finalize(self) -> None:
        root, cwd = str(self.root), self.workdir
        self.observed["hybrid.status.text"] = run_kit("status", root, cwd=cwd)
        as_json = run_kit("status", root, "--format", "json", cwd=cwd)
        self.observed["hybrid.status.json"] = as_json
        self.observed["hybrid.tree.before_refusal"] = snapshot(self.root)
        self.observed["hybrid.finalize.refused"] = run_kit(
            "finalize", root, "--allow-dirty", "--yes", cwd=cwd
        )
        try:
            earliest = float(json.loads(as_json.stdout)["earliest"])
        except (ValueError, KeyError, TypeError) as problem:
            raise WalkStopped(f"no earliest time in status --format json ({problem}):\n"
                              f"{as_json.describe()}") from None  # fmt: skip
        self.observed["hybrid.earliest"] = earliest
        self.observed["hybrid.tree"] = snapshot(self.root)
        later = earliest + 1.0
        self.observed["ready.status"] = run_kit("status", root, cwd=cwd, now=later)
        finalized = run_kit("finalize", root, "--allow-dirty", "--yes", cwd=cwd, now=later)
        self.observed["ready.finalize"] = finalized
        if finalized.returncode != 0:
            raise WalkStopped(f"migrate finalize failed:\n{finalized.describe()}")
        self.observed["final.tree"] = snapshot(self.root)
        self.observed["final.phase"] = state_phase(self.root)

    def _final(self) -> None:
        legacy: Grant = self.observed["legacy.grant"]
        before: Grant = self.observed["hybrid.jwt.grant"]
        with self.running() as http:
            flow = OAuthFlow(self.server.base_url, http)
            opaque = legacy.tokens.access_token
            self.probe("final.opaque.mcp", self._initialize(http, opaque))
            self.probe("final.opaque.introspection", self._introspect(http, opaque, legacy.client))
            old_jwt = before.tokens.access_token
            self.probe("final.old_jwt.whoami", self._whoami(http, old_jwt))
            self.probe(
                "final.old_jwt.introspection", self._introspect(http, old_jwt, legacy.client)
            )
            after = self.need("final.new_jwt.grant", lambda: self._grant(flow, legacy.client))
            self.probe("final.new_jwt.whoami", self._whoami(http, after.tokens.access_token))
            self.probe("final.metadata", lambda: flow.metadata)
            self.probe("final.jwks", lambda: fetch_json(http, flow.metadata["jwks_uri"]))
            # Refresh rotation: the access token issued with the refresh token is revoked.
            rotated = self.need("final.rotated.grant", lambda: self._grant(flow, legacy.client))
            old_access = rotated.tokens.access_token
            self.probe("final.rotated.whoami_before", self._whoami(http, old_access))
            refresh_token = rotated.tokens.refresh_token
            if refresh_token is None:
                raise WalkStopped("the final phase issued no refresh token")
            refreshed = self.probe(
                "final.refreshed", lambda: flow.refresh(legacy.client, refresh_token)
            )
            self.probe("final.rotated.mcp_after", self._initialize(http, old_access))
            if refreshed is not None:
                self.probe("final.refreshed.whoami", self._whoami(http, refreshed.access_token))

    def _final_with_empty_store(self) -> None:
        for path in self.store.iterdir():
            path.unlink()
        self.observed["emptied.store"] = sorted(p.name for p in self.store.iterdir())
        before: Grant = self.observed["hybrid.jwt.grant"]
        rotated: Grant = self.observed["final.rotated.grant"]
        with self.running() as http:
            flow = OAuthFlow(self.server.base_url, http)
            self.probe("emptied.old_jwt.whoami", self._whoami(http, before.tokens.access_token))
            self.probe("emptied.rotated.mcp", self._initialize(http, rotated.tokens.access_token))
            # The registered clients were in the emptied file too: register again.
            later = self.need("emptied.new_jwt.grant", lambda: self._grant(flow))
            self.probe("emptied.new_jwt.whoami", self._whoami(http, later.tokens.access_token))

    def _rollback(self) -> None:
        undone = run_kit("rollback", str(self.root), "--yes", cwd=self.workdir)
        self.observed["rollback"] = undone
        self.observed["rollback.tree"] = snapshot(self.root)
        if undone.returncode != 0:
            raise WalkStopped(f"migrate rollback failed:\n{undone.describe()}")
        self.observed["rollback.phase"] = state_phase(self.root)
        final_jwt: Grant = self.observed["emptied.new_jwt.grant"]
        with self.running() as http:
            flow = OAuthFlow(self.server.base_url, http)
            self.probe(
                "rolled_back.final_jwt.whoami", self._whoami(http, final_jwt.tokens.access_token)
            )
            fresh = self.need(
                "rolled_back.fresh.grant", lambda: self._grant(flow, final_jwt.client)
            )
            self.probe("rolled_back.fresh.whoami", self._whoami(http, fresh.tokens.access_token))


class WalkStopped(Exception):
    """A step the walk cannot go on without did not succeed."""


def state_phase(root: Path) -> str:
    data: dict[str, Any] = json.loads((root / STATE_DIR / "state.json").read_text("utf-8"))
    return str(data["phase"])


# -- a hybrid server that ran, without running one -------------------------------------


class Clock:
    """A clock the tests move by hand: ``clock.at = ...``."""

    def __init__(self, at: float) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


def record_hybrid_run(
    root: Path,
    *,
    started: float,
    opaque: Sequence[tuple[float, str | None]] = (),
    jwt: Sequence[tuple[float, str | None]] = (),
    opaque_minted: Sequence[tuple[float, str | None]] = (),
    instance: str = "hybrid-test:1",
) -> Path:
    """Write the metrics file a hybrid server started at ``started`` would have flushed.

    ``opaque`` / ``jwt``: (time, client id) of each accepted validation; ``opaque_minted``:
    (time, client id) of each opaque mint. Returns the file's path.
    """
    path = root / METRICS_FILE
    clock = Clock(started)
    metrics = Metrics(path, clock=clock, instance=instance)
    events = [(at, "opaque", client) for at, client in opaque]
    events += [(at, "jwt", client) for at, client in jwt]
    for at, kind, client in sorted(events, key=lambda e: e[0]):
        clock.at = at
        metrics.validation("opaque" if kind == "opaque" else "jwt", "accepted", "ok", client)
    for at, client in opaque_minted:
        clock.at = at
        metrics.opaque_minted(client)
    clock.at = max([started, *(e[0] for e in events), *(m[0] for m in opaque_minted)])
    if not metrics.flush():
        raise AssertionError(f"could not write {path}")
    return path
