"""Three replicas of the migrated sample on three "hosts", one real Redis, one real Prometheus.

Each host is its own working folder holding its own copy of the tree the operator
migrated (``build``): its own ``.oauth-migration/`` (metrics file, unused SQLite
denylist) and the sample's token store in its memory. What the replicas share is what a
fleet shares: the issuer (``BASE_URL``), the keys given in the environment
(``OAUTH_MIGRATE_SIGNING_KEY`` and ``OAUTH_MIGRATE_VERIFY_KEYS``, derived from a key folder
the operator keeps off the hosts), one ``redis-server`` (``OAUTH_MIGRATE_REDIS_URL``) and
a Prometheus scraping every replica's ``/oauth-migrate/metrics``.

A deploy is a replica stopped and started again, on its port, with the new environment.
The key procedure runs twice: keys in the environment, and one key folder every host
mounts (a shared volume, ``OAUTH_MIGRATE_KEYS_DIR``).

Hybrid phase: with replica C still on the legacy code, ``status --prometheus`` and
``finalize`` refuse the fleet (2 of 3 replicas on the hybrid reader), even with the clock
past every wait; once C runs it, the fleet is ready. Final phase: a token revoked on A is
refused on B and C within ``BOUND_SECONDS``; a key rotated through rotate -> deploy ->
promote -> deploy -> retire -> deploy never makes a replica refuse a valid token; Redis
killed and brought back empty behaves as MIGRATION.md says (valid tokens refused with a
401 past the bound, never a 5xx; every revocation still holds once it is back).
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from shims.redis_denylist import BOUND_SECONDS
from shims.starlette_adapter import METRICS_PATH
from tests.migrate.e2e_support import (
    CommandResult,
    clean_env,
    copy_tree,
    jwt_header,
    migrate_to_hybrid,
    run_command,
    run_migrate,
)
from tests.migrate.test_multi_replica import scrape, total
from tests.migrate.tree_support import copy_sample
from tests.sample_legacy.launch import HERMETIC_ENV
from tests.support.oauth_flow import OAuthFlow, RegisteredClient, describe, send_initialize
from tests.support.prometheus_server import PrometheusServer, prometheus_binary
from tests.support.redis_server import SKIP_REASON, RedisServer, redis_binary
from tests.support.server_process import ServerProcess, command_from_start_file, free_port

pytestmark = [
    pytest.mark.skipif(redis_binary() is None, reason=SKIP_REASON),
    pytest.mark.skipif(
        prometheus_binary() is None,
        reason="the prometheus binary is not installed (CI installs Debian's `prometheus` "
        "package in .ci/run; `apt-get install prometheus` to run these tests)",
    ),
]

HOSTS = ("a", "b", "c")
SCRAPE_WAIT = 20.0
FAR_FUTURE = str(time.time() + 400 * 86400)  # past every wait status could ask for
READER = "oauth_migrate_reader_info"


@dataclass
class Host:
    name: str
    folder: Path  # this host's working folder: its own copy of the tree
    port: int
    replica: ServerProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Fleet:
    workdir: Path
    build: Path  # the operator's migrated tree (what `migrate` commands are pointed at)
    issuer: str
    hosts: dict[str, Host]
    redis: RedisServer
    prometheus: PrometheusServer
    keys_dir: Path  # the operator's key folder, on no host
    argv: list[str]
    stack: ExitStack
    shared_keys: Path  # a key folder every host mounts (a shared volume)
    key_source: str = "environment"  # or "shared folder"
    deploys: list[str] = field(default_factory=list)

    @property
    def operator_keys(self) -> Path:
        """The folder the `migrate keys` commands change for the current key source."""
        return self.keys_dir if self.key_source == "environment" else self.shared_keys

    def key_variables(self) -> dict[str, str | None]:
        if self.key_source == "environment":
            return {**key_environment(self.keys_dir), "OAUTH_MIGRATE_KEYS_DIR": None}
        return {
            "OAUTH_MIGRATE_KEYS_DIR": str(self.shared_keys),
            "OAUTH_MIGRATE_SIGNING_KEY": None,
            "OAUTH_MIGRATE_VERIFY_KEYS": None,
        }

    def environment(self) -> dict[str, str | None]:
        """What every replica is given: the shared issuer, Redis, the keys from K."""
        return {
            **HERMETIC_ENV,
            "BASE_URL": self.issuer,
            "OAUTH_MIGRATE_REDIS_URL": self.redis.url,
            "OAUTH_MIGRATE_METRICS_ROUTE": "1",
            **self.key_variables(),
            "OAUTH_MIGRATE_PUBLISHED_KEYS": None,
            "OAUTH_MIGRATE_ISSUER": None,
            "OAUTH_MIGRATE_METRICS": None,
            "OAUTH_MIGRATE_TOKEN_LIFETIME": None,
        }

    def deploy(self, name: str, tree: Path | None = None) -> None:
        """Stop the host's replica, put ``tree`` (default: what it has) in its folder, and
        start it with the fleet's environment as it is now."""
        host = self.hosts[name]
        if host.replica is not None:
            host.replica.stop()
        if tree is not None:
            shutil.rmtree(host.folder, ignore_errors=True)
            copy_tree(tree, host.folder)
        host.replica = ServerProcess(
            self.argv,
            cwd=host.folder,
            log_dir=self.workdir / "logs" / name,
            port=host.port,
            env=self.environment(),
        )
        self.stack.callback(host.replica.stop)
        host.replica.start()
        self.deploys.append(name)

    def log_of(self, name: str) -> str:
        replica = self.hosts[name].replica
        return replica.log_text() if replica is not None else ""


def key_environment(keys_dir: Path) -> dict[str, str | None]:
    """The fleet's key variables from the operator's folder: the active key's PEM and the
    JWKS `migrate keys jwks` prints (every published key, public members only)."""
    manifest = json.loads((keys_dir / "manifest.json").read_text(encoding="utf-8"))
    active = next(k["kid"] for k in manifest["keys"] if k["state"] == "active")
    jwks = run_migrate("keys", "jwks", "--keys-dir", str(keys_dir), cwd=keys_dir, expect=[0])
    return {
        "OAUTH_MIGRATE_SIGNING_KEY": (keys_dir / f"{active}.pem").read_text(encoding="ascii"),
        "OAUTH_MIGRATE_VERIFY_KEYS": jwks.stdout,
    }


def _migrate(fleet: Fleet, *args: str, expect: list[int]) -> CommandResult:
    """A `migrate` command with the clock past every wait (OAUTH_MIGRATE_NOW)."""
    return run_command(
        [sys.executable, "-m", "migrate", *args],
        cwd=fleet.build.parent,
        env=clean_env({"OAUTH_MIGRATE_NOW": FAR_FUTURE}),
        expect=expect,
    )


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """A, B on the hybrid code, C still on the legacy code; Redis; Prometheus on all three."""
    workdir = tmp_path_factory.mktemp("multi_host")
    legacy = copy_sample(workdir / "legacy")
    build = workdir / "build"
    copy_tree(legacy, build)
    migrate_to_hybrid(build)
    keys_dir = workdir / "operator-keys"
    shared_keys = workdir / "shared-volume" / "keys"
    for folder in (keys_dir, shared_keys):
        run_migrate("keys", "generate", "--keys-dir", str(folder), cwd=workdir, expect=[0])
    ports: list[int] = []
    while len(ports) < len(HOSTS):
        port = free_port()
        if port not in ports:
            ports.append(port)
    folders = [workdir / "hosts" / name / "server" for name in HOSTS]
    hosts = {n: Host(n, f, p) for n, f, p in zip(HOSTS, folders, ports, strict=True)}
    with ExitStack() as stack:
        redis = RedisServer(workdir / "redis")
        stack.callback(redis.stop)
        redis.start()
        (workdir / "prometheus").mkdir()
        prometheus = PrometheusServer(
            workdir / "prometheus", [f"127.0.0.1:{p}" for p in ports], metrics_path=METRICS_PATH
        )
        stack.callback(prometheus.stop)
        prometheus.start()
        fleet = Fleet(
            workdir,
            build,
            hosts["a"].url,
            hosts,
            redis,
            prometheus,
            keys_dir,
            command_from_start_file(build / "sample_legacy" / "START"),
            stack,
            shared_keys,
        )
        fleet.deploy("a", build)
        fleet.deploy("b", build)
        fleet.deploy("c", legacy)  # not redeployed yet: the legacy code, no metrics route
        yield fleet


def _reporting(fleet: Fleet, mode: str, count: int) -> None:
    def seen() -> bool | None:
        rows = fleet.prometheus.query(f'count({READER}{{mode="{mode}"}})')
        return True if rows and round(float(rows[0]["value"][1])) == count else None

    fleet.prometheus.wait_for(seen, f"{count} replicas reporting {mode}", timeout=SCRAPE_WAIT)


def _status(fleet: Fleet, expect: list[int]) -> dict[str, Any]:
    result = _migrate(
        fleet,
        "status",
        str(fleet.build),
        "--prometheus",
        fleet.prometheus.url,
        "--format",
        "json",
        expect=expect,
    )
    document: dict[str, Any] = json.loads(result.stdout)
    return document


# -- the hybrid phase: every replica must run the hybrid reader ------------------------


@dataclass
class HybridRun:
    not_ready: dict[str, Any]  # status with C on the legacy code
    refused: CommandResult  # finalize then
    ready: dict[str, Any]  # status once C runs the hybrid code
    started: list[float]  # each replica's start gauge then
    finalized: CommandResult


@pytest.fixture(scope="module")
def hybrid_run(fleet: Fleet) -> HybridRun:
    """Status and finalize with C on the legacy code, then with C redeployed."""
    _reporting(fleet, "hybrid", 2)
    not_ready = _status(fleet, expect=[7])
    prometheus = ["--prometheus", fleet.prometheus.url]
    refused = _migrate(fleet, "finalize", str(fleet.build), "--yes", *prometheus, expect=[7])
    fleet.deploy("c", fleet.build)
    _reporting(fleet, "hybrid", 3)
    ready = _status(fleet, expect=[0])
    started = [total(scrape(_replica(fleet, n)), STARTED) for n in HOSTS]
    finalized = _migrate(fleet, "finalize", str(fleet.build), "--yes", *prometheus, expect=[0])
    return HybridRun(not_ready, refused, ready, started, finalized)


STARTED = "oauth_migrate_started_timestamp_seconds"


def _replica(fleet: Fleet, name: str) -> ServerProcess:
    replica = fleet.hosts[name].replica
    assert replica is not None
    return replica


def test_a_replica_on_the_legacy_code_keeps_the_fleet_not_ready(hybrid_run: HybridRun) -> None:
    """2 of 3 replicas on the hybrid reader: not ready, even with the clock past every wait."""
    report = hybrid_run.not_ready
    assert report["ready"] is False, report
    assert report["evidence"]["replicas_scraped"] == 3, report
    assert report["evidence"]["replicas_hybrid"] == 2, report
    assert "2 of 3 replicas" in report["reason"], report


def test_finalize_refuses_the_fleet_until_every_replica_reports(hybrid_run: HybridRun) -> None:
    assert hybrid_run.refused.returncode == 7, hybrid_run.refused.describe()
    assert "2 of 3 replicas" in hybrid_run.refused.stdout + hybrid_run.refused.stderr


def test_the_fleet_is_ready_once_every_replica_reports(hybrid_run: HybridRun) -> None:
    report = hybrid_run.ready
    assert report["ready"] is True, report
    evidence = report["evidence"]
    assert (evidence["replicas_scraped"], evidence["replicas_hybrid"]) == (3, 3), report
    # The wait runs from the latest start: C's, redeployed last.
    assert evidence["fleet_since"] == pytest.approx(max(hybrid_run.started), abs=1e-3), report
    assert evidence["started"] == pytest.approx(min(hybrid_run.started), abs=1e-3), report
    assert hybrid_run.finalized.returncode == 0, hybrid_run.finalized.describe()


# -- the final phase: revocation through Redis, keys through the environment ------------


@pytest.fixture(scope="module")
def final_fleet(fleet: Fleet, hybrid_run: HybridRun) -> Fleet:
    """The finalized tree deployed to every host."""
    assert hybrid_run.finalized.returncode == 0, hybrid_run.finalized.describe()
    for name in HOSTS:
        fleet.deploy(name, fleet.build)
    _reporting(fleet, "final", 3)
    return fleet


class HostFlow(OAuthFlow):
    """The OAuth flow sent to one replica although the metadata names the shared issuer
    (authorization codes and the sample's tokens live in that replica's memory)."""

    def __init__(self, host_url: str, issuer: str, http: httpx.Client) -> None:
        super().__init__(host_url, http)
        self.issuer = issuer.rstrip("/")

    def endpoint(self, name: str, default_path: str) -> str:
        url = super().endpoint(name, default_path)
        if url == self.issuer or url.startswith(self.issuer + "/"):
            return self.base_url + url[len(self.issuer) :]
        return url


@dataclass
class Grant:
    host: str
    client: RegisteredClient
    token: str


def _mint(fleet: Fleet, name: str, http: httpx.Client) -> Grant:
    client, tokens = HostFlow(fleet.hosts[name].url, fleet.issuer, http).obtain_tokens()
    return Grant(name, client, tokens.access_token)


def _revoke(fleet: Fleet, grant: Grant, http: httpx.Client) -> None:
    HostFlow(fleet.hosts[grant.host].url, fleet.issuer, http).revoke(grant.client, grant.token)


def _status_on(fleet: Fleet, name: str, token: str, http: httpx.Client) -> int:
    return send_initialize(http, fleet.hosts[name].url + "/mcp", token).status_code


def _accepted_everywhere(fleet: Fleet, grants: list[Grant], http: httpx.Client) -> None:
    for grant in grants:
        for name in HOSTS:
            response = send_initialize(http, fleet.hosts[name].url + "/mcp", grant.token)
            assert response.status_code == 200, (
                f"host {name} refused a valid token minted on {grant.host} "
                f"(kid {jwt_header(grant.token).get('kid')}) after deploys {fleet.deploys}: "
                f"{describe(response)}"
            )


@dataclass
class Refusal:
    first_refused: float  # seconds from the event to the start of the first refused request
    last_accepted: float  # seconds from the event to the start of the last accepted one


def _refused_within(
    fleet: Fleet, name: str, token: str, http: httpx.Client, since: float
) -> Refusal:
    """When host ``name`` started refusing ``token`` (401, never a 5xx), counted from
    ``since`` at the start of each request: the server checks after the start, so a
    request accepted must have started inside the bound, however slow the machine."""
    last_accepted = -1.0
    while True:
        started = time.monotonic() - since
        status = _status_on(fleet, name, token, http)
        assert status in (200, 401), f"host {name} answered {status}"
        if status == 401:
            return Refusal(started, last_accepted)
        last_accepted = started
        assert started < 10 * BOUND_SECONDS, f"{name} never refused it"


def _within_bound(what: str, refusals: dict[str, Refusal]) -> None:
    seen = {
        n: (f"accepted until {r.last_accepted:.3f} s" if r.last_accepted >= 0 else "never accepted")
        + f", refused from {r.first_refused:.3f} s"
        for n, r in refusals.items()
    }
    print(f"{what}: {seen}")
    assert all(r.last_accepted < BOUND_SECONDS for r in refusals.values()), seen


def test_a_token_revoked_on_one_host_is_refused_on_the_others_within_the_bound(
    final_fleet: Fleet,
) -> None:
    with httpx.Client(timeout=15.0) as http:
        grant = _mint(final_fleet, "a", http)
        _accepted_everywhere(final_fleet, [grant], http)  # and cached by every gate
        _revoke(final_fleet, grant, http)
        revoked = time.monotonic()
        refusals = {n: _refused_within(final_fleet, n, grant.token, http, revoked) for n in HOSTS}
    _within_bound("revoked on a", refusals)


@pytest.mark.parametrize("source", ["environment", "shared folder"])
def test_a_key_rotated_through_the_procedure_never_refuses_a_valid_token(
    final_fleet: Fleet, source: str
) -> None:
    """rotate -> deploy each -> promote -> deploy each -> retire -> deploy each, every valid
    token checked on every replica after every single deploy; the keys given in the
    environment (derived from the operator's folder) or read from one shared folder."""
    fleet = final_fleet
    fleet.key_source = source
    for name in HOSTS:
        fleet.deploy(name)
    keys = ["--keys-dir", str(fleet.operator_keys)]
    with httpx.Client(timeout=15.0) as http:
        valid = [_mint(fleet, n, http) for n in HOSTS]
        old_kid = jwt_header(valid[0].token)["kid"]
        run_migrate("keys", "rotate", *keys, cwd=fleet.workdir, expect=[0])
        for name in HOSTS:
            fleet.deploy(name)
            valid.append(_mint(fleet, name, http))
            _accepted_everywhere(fleet, valid, http)
        run_migrate("keys", "promote", *keys, cwd=fleet.workdir, expect=[0])
        new_signed: list[Grant] = []
        for name in HOSTS:
            fleet.deploy(name)
            # The redeployed host signs with the new key; hosts not redeployed yet have
            # published it since the rotation, so they accept its tokens.
            new_signed.append(_mint(fleet, name, http))
            assert jwt_header(new_signed[-1].token)["kid"] != old_kid
            _accepted_everywhere(fleet, valid + new_signed, http)
        run_migrate("keys", "retire", "--force", *keys, cwd=fleet.workdir, expect=[0])
        for name in HOSTS:
            fleet.deploy(name)
            new_signed.append(_mint(fleet, name, http))
            _accepted_everywhere(fleet, new_signed, http)
        published = [
            [k["kid"] for k in http.get(h.url + "/.well-known/jwks.json").json()["keys"]]
            for h in fleet.hosts.values()
        ]
    new_kid = jwt_header(new_signed[-1].token)["kid"]
    assert published == [[new_kid]] * 3, published


def test_killing_redis_and_bringing_it_back_behaves_as_documented(final_fleet: Fleet) -> None:
    """Past the bound, valid tokens get 401 (never a 5xx), counted and logged; once Redis
    is back, empty, valid tokens pass again and every revocation still holds, even on a
    replica started afresh."""
    fleet = final_fleet
    with httpx.Client(timeout=15.0) as http:
        valid = _mint(fleet, "a", http)
        revoked_before = _mint(fleet, "b", http)
        during = _mint(fleet, "b", http)
        _revoke(fleet, revoked_before, http)
        time.sleep(BOUND_SECONDS)
        _accepted_everywhere(fleet, [valid, during], http)

        fleet.redis.kill()
        killed = time.monotonic()
        refusals = {n: _refused_within(fleet, n, valid.token, http, killed) for n in HOSTS}
        _revoke(fleet, during, http)  # /revoke answers 200 during the outage
        outage = scrape(_replica(fleet, "b"))
        assert total(outage, "oauth_migrate_denylist_available") == 0
        assert total(outage, "oauth_migrate_denylist_outage_refusals_total") >= 1
        assert total(outage, "oauth_migrate_denylist_pending_revocations") == 1

        fleet.redis.start()  # no persistence: it comes back empty
        back = time.monotonic()
        for name in HOSTS:
            while _status_on(fleet, name, valid.token, http) != 200:
                assert time.monotonic() - back < 5.0, f"{name} still refuses after Redis came back"
                time.sleep(0.05)
        recovered = time.monotonic() - back
        fleet.deploy("c")  # a replica started afresh reads only what Redis holds
        for grant in (revoked_before, during):
            for name in HOSTS:
                assert _status_on(fleet, name, grant.token, http) == 401, (name, grant.host)
        assert _status_on(fleet, "c", valid.token, http) == 200
    print(f"accepted again {recovered:.2f} s after Redis was back")
    _within_bound("Redis killed", refusals)
    for name in ("a", "b"):
        log = fleet.log_of(name)
        assert log.count("unavailable (") == 1 and "available again" in log, log[-3000:]
