"""Two replicas of the migrated sample behind one key and one store, scraped by a real Prometheus.

A module-scoped fixture copies ``sample_legacy`` into a temporary folder and starts it on
a persistent SQLite token store (``SAMPLE_TOKEN_DB``) to obtain an opaque token, the way a
client held one before the deploy. It then runs ``migrate plan`` + ``apply`` on the copy and
starts two replicas of it on two ports with:

- the same ``BASE_URL`` (replica 1's URL): the issuer, and so the JWT ``iss`` and ``aud``,
  must be identical on every replica for a token minted by one to validate on the other;
  the sample's DNS-rebinding allowance (``127.0.0.1:*``) lets replica 2 be called on its
  own port all the same;
- one RSA key generated here and given as PEM text in ``OAUTH_MIGRATE_SIGNING_KEY``;
- the same ``SAMPLE_TOKEN_DB``;
- ``OAUTH_MIGRATE_METRICS_ROUTE=1`` and one metrics file per replica
  (``OAUTH_MIGRATE_METRICS=<tmp>/replica-N.sqlite3``): replicas on separate machines share no
  file, and with no file at the project's default path ``migrate status --prometheus`` can
  only have its numbers from Prometheus.

A real ``prometheus`` (Debian's package; ``.ci/run`` installs it) runs with its own config,
data folder and port, scraping both replicas' ``/oauth-migrate/metrics`` every second. The
tests skip when the binary is absent.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from shims.keys import generate_private_key, private_pem, thumbprint
from shims.starlette_adapter import METRICS_PATH
from tests.migrate.e2e_support import (
    CommandResult,
    fetch_json,
    jwt_claims,
    jwt_header,
    migrate_to_hybrid,
    run_migrate,
)
from tests.migrate.tree_support import sample_server
from tests.sample_legacy.launch import HERMETIC_ENV
from tests.support.oauth_flow import (
    OAuthFlow,
    RegisteredClient,
    TokenSet,
    describe,
    looks_like_jwt,
    send_initialize,
    whoami_with,
)
from tests.support.prometheus_server import PrometheusServer, prometheus_binary
from tests.support.server_process import ServerProcess, command_from_start_file, free_port

pytestmark = pytest.mark.skipif(
    prometheus_binary() is None,
    reason="the prometheus binary is not installed (CI installs Debian's `prometheus` "
    "package in .ci/run; `apt-get install prometheus` to run these tests)",
)

USER = "alice"
SCRAPE_WAIT = 20.0  # seconds Prometheus gets to scrape what the replicas counted

# The traffic the status test sends to each replica, one gated request per call.
OPAQUE_ACCEPTED = (3, 2)
JWT_ACCEPTED = (2, 4)
OPAQUE_REJECTED = (1, 1)
JWT_REJECTED = (1, 0)

VALIDATIONS = "oauth_migrate_token_validations_total"
BY_CLIENT = "oauth_migrate_token_validations_by_client_total"
MINTED = "oauth_migrate_tokens_minted_total"
STARTED = "oauth_migrate_started_timestamp_seconds"
LAST_OPAQUE_ACCEPTED = "oauth_migrate_last_opaque_accepted_timestamp_seconds"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@dataclass(frozen=True)
class Grant:
    client: RegisteredClient
    tokens: TokenSet


@dataclass
class Cluster:
    root: Path  # the migrated project (what `migrate status` is pointed at)
    issuer: str  # BASE_URL of both replicas
    replicas: tuple[ServerProcess, ServerProcess]
    prometheus: PrometheusServer
    legacy: Grant  # issued by the legacy server, on the shared store, before the apply
    kid: str  # RFC 7638 thumbprint of the key given in OAUTH_MIGRATE_SIGNING_KEY

    @property
    def mcp_resource(self) -> str:
        return self.issuer + "/mcp"


class ReplicaFlow(OAuthFlow):
    """The OAuth flow sent to one replica, although the metadata names the shared issuer.

    Every replica advertises endpoints under ``BASE_URL``; authorization codes live in the
    memory of the replica that issued them, so the whole flow must go to one replica.
    """

    def __init__(self, replica_url: str, issuer: str, http: httpx.Client) -> None:
        super().__init__(replica_url, http)
        self.issuer = issuer.rstrip("/")

    def endpoint(self, name: str, default_path: str) -> str:
        url = super().endpoint(name, default_path)
        if url == self.issuer or url.startswith(self.issuer + "/"):
            return self.base_url + url[len(self.issuer) :]
        return url


# -- reading a replica's own counters ----------------------------------------------------


def scrape(replica: ServerProcess) -> Samples:
    """Every sample the replica serves at its metrics route, by (name, labels)."""
    with httpx.Client(timeout=10.0) as http:
        response = http.get(replica.base_url + METRICS_PATH)
    assert response.status_code == 200, describe(response)
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples called ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(value for (n, have), value in samples.items() if n == name and wanted <= have)


def by_kind_outcome(samples: Samples) -> dict[str, int]:
    """Validations as ``"<kind> <outcome>" -> count`` (the keys `migrate status` uses)."""
    counts: dict[str, int] = {}
    for (name, labels), value in samples.items():
        if name != VALIDATIONS:
            continue
        label = dict(labels)
        key = f"{label['kind']} {label['outcome']}"
        counts[key] = counts.get(key, 0) + round(value)
    return {key: n for key, n in sorted(counts.items()) if n}


def opaque_by_client(samples: Samples) -> dict[str, int]:
    """Opaque validations per ``client_id`` label (accepted ones carry the token's client)."""
    counts: dict[str, int] = {}
    for (name, labels), value in samples.items():
        label = dict(labels)
        if name == BY_CLIENT and label.get("kind") == "opaque" and value:
            counts[label.get("client_id", "")] = round(value)
    return counts


def added(after: Mapping[str, int], before: Mapping[str, int]) -> dict[str, int]:
    keys = set(after) | set(before)
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in sorted(keys)}
    return {k: n for k, n in delta.items() if n}


# -- the cluster ---------------------------------------------------------------------------


def _legacy_grant(server: ServerProcess) -> Grant:
    with httpx.Client(timeout=15.0) as http:
        client, tokens = OAuthFlow(server.base_url, http).obtain_tokens()
        assert not looks_like_jwt(tokens.access_token), "the legacy sample already issues JWTs"
        assert whoami_with(http, server.base_url + "/mcp", tokens.access_token) == USER
    return Grant(client, tokens)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Two replicas of the migrated sample (one key, one store) and a Prometheus scraping both."""
    workdir = tmp_path_factory.mktemp("multi_replica")
    root = sample_server(workdir)
    argv = command_from_start_file(root / "sample_legacy" / "START")
    store = {**HERMETIC_ENV, "SAMPLE_TOKEN_DB": str(workdir / "tokens.sqlite3")}
    ports = (free_port(), free_port())
    while ports[1] == ports[0]:
        ports = (ports[0], free_port())
    issuer = f"http://127.0.0.1:{ports[0]}"
    key = generate_private_key()
    with ExitStack() as stack:
        # The legacy server, as replica 1 was before the deploy, on the shared store.
        legacy_server = ServerProcess(
            argv, cwd=root, log_dir=workdir / "legacy", env=store, port=ports[0]
        )
        stack.callback(legacy_server.stop)
        legacy_server.start()
        legacy = _legacy_grant(legacy_server)
        legacy_server.stop()

        migrate_to_hybrid(root)

        replicas: list[ServerProcess] = []
        for number, port in enumerate(ports, start=1):
            replica = ServerProcess(
                argv,
                cwd=root,
                log_dir=workdir / f"replica-{number}",
                port=port,
                env={
                    **store,
                    "BASE_URL": issuer,
                    "OAUTH_MIGRATE_SIGNING_KEY": private_pem(key).decode("ascii"),
                    "OAUTH_MIGRATE_METRICS": str(workdir / f"replica-{number}.sqlite3"),
                    "OAUTH_MIGRATE_METRICS_ROUTE": "1",
                    "OAUTH_MIGRATE_KEYS_DIR": None,
                    "OAUTH_MIGRATE_PUBLISHED_KEYS": None,
                    "OAUTH_MIGRATE_ISSUER": None,
                    "OAUTH_MIGRATE_TOKEN_LIFETIME": None,
                },
            )
            stack.callback(replica.stop)
            replica.start()
            replicas.append(replica)

        prometheus_dir = workdir / "prometheus"
        prometheus_dir.mkdir()
        prometheus = PrometheusServer(
            prometheus_dir, [f"127.0.0.1:{port}" for port in ports], metrics_path=METRICS_PATH
        )
        stack.callback(prometheus.stop)
        prometheus.start()
        prometheus.wait_for_targets_up(timeout=SCRAPE_WAIT)

        yield Cluster(
            root=root,
            issuer=issuer,
            replicas=(replicas[0], replicas[1]),
            prometheus=prometheus,
            legacy=legacy,
            kid=thumbprint(key.public_key()),
        )


def _mint_on(cluster: Cluster, index: int, http: httpx.Client) -> TokenSet:
    """A full OAuth flow (register, authorize with PKCE, exchange) against one replica."""
    flow = ReplicaFlow(cluster.replicas[index].base_url, cluster.issuer, http)
    _, tokens = flow.obtain_tokens()
    return tokens


# -- one key, one issuer -----------------------------------------------------------------


def test_replicas_publish_the_shared_key_and_one_issuer(cluster: Cluster) -> None:
    """Both replicas serve the same issuer and a JWKS holding exactly the key from the env."""
    with httpx.Client(timeout=15.0) as http:
        documents = [
            fetch_json(http, r.base_url + "/.well-known/oauth-authorization-server")
            for r in cluster.replicas
        ]
        jwks_sets = [
            fetch_json(http, r.base_url + "/.well-known/jwks.json") for r in cluster.replicas
        ]
    assert [d.get("issuer") for d in documents] == [cluster.issuer, cluster.issuer], documents
    for jwks in jwks_sets:
        assert [key.get("kid") for key in jwks.get("keys", [])] == [cluster.kid], jwks_sets


@pytest.mark.parametrize(
    ("minter", "checker"), [(0, 1), (1, 0)], ids=["replica1-to-replica2", "replica2-to-replica1"]
)
def test_jwt_minted_by_one_replica_is_accepted_by_the_other(
    cluster: Cluster, minter: int, checker: int
) -> None:
    """A JWT from a full OAuth flow against one replica opens the other replica's /mcp."""
    before = [total(scrape(r), MINTED, kind="jwt") for r in cluster.replicas]
    accepted_before = total(
        scrape(cluster.replicas[checker]), VALIDATIONS, kind="jwt", outcome="accepted"
    )
    with httpx.Client(timeout=15.0) as http:
        tokens = _mint_on(cluster, minter, http)
        token = tokens.access_token
        assert looks_like_jwt(token), tokens.response
        assert jwt_header(token).get("kid") == cluster.kid, jwt_header(token)
        claims = jwt_claims(token)
        assert claims.get("iss") == cluster.issuer, claims
        audience = claims.get("aud")
        assert cluster.mcp_resource in (audience if isinstance(audience, list) else [audience]), (
            claims
        )
        after = [total(scrape(r), MINTED, kind="jwt") for r in cluster.replicas]
        minted = [a - b for a, b in zip(after, before, strict=True)]
        assert minted[minter] == 1 and minted[checker] == 0, f"JWTs minted per replica: {minted}"
        checker_mcp = cluster.replicas[checker].base_url + "/mcp"
        assert whoami_with(http, checker_mcp, token) == USER
    accepted_after = total(
        scrape(cluster.replicas[checker]), VALIDATIONS, kind="jwt", outcome="accepted"
    )
    assert accepted_after > accepted_before, "the other replica did not count the JWT it accepted"


def test_pre_apply_opaque_token_is_accepted_by_both_replicas(cluster: Cluster) -> None:
    """The opaque token the legacy server stored before the apply opens /mcp on both replicas."""
    token = cluster.legacy.tokens.access_token
    assert not looks_like_jwt(token)
    with httpx.Client(timeout=15.0) as http:
        for replica in cluster.replicas:
            assert whoami_with(http, replica.base_url + "/mcp", token) == USER, replica.base_url
    for replica in cluster.replicas:
        counted = opaque_by_client(scrape(replica))
        assert counted.get(cluster.legacy.client.client_id, 0) > 0, (replica.base_url, counted)


# -- migrate status --prometheus -----------------------------------------------------------


@dataclass
class StatusRun:
    result: CommandResult
    report: dict[str, Any] | None  # the JSON it printed, when it printed JSON
    expected: dict[str, int]  # validations summed over both replicas' own counters
    expected_clients: dict[str, int]  # accepted opaque validations per client, summed
    started: list[float]  # each replica's start gauge
    last_opaque_accepted: list[float]  # each replica's gauge
    prometheus_url: str


def _send(http: httpx.Client, replica: ServerProcess, token: str, n: int, status: int) -> None:
    for _ in range(n):
        response = send_initialize(http, replica.base_url + "/mcp", token)
        assert response.status_code == status, describe(response)


def _tampered(jwt_text: str) -> str:
    head, payload, signature = jwt_text.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    return f"{head}.{payload}.{flipped}"


@pytest.fixture(scope="module")
def status_run(cluster: Cluster) -> StatusRun:
    """Known traffic on both replicas, Prometheus caught up, then `migrate status --prometheus`."""
    opaque = cluster.legacy.tokens.access_token
    with httpx.Client(timeout=15.0) as http:
        jwt_token = _mint_on(cluster, 0, http).access_token
        for index, replica in enumerate(cluster.replicas):
            before = by_kind_outcome(scrape(replica))
            _send(http, replica, opaque, OPAQUE_ACCEPTED[index], 200)
            _send(http, replica, jwt_token, JWT_ACCEPTED[index], 200)
            _send(http, replica, "not-a-token-anyone-issued", OPAQUE_REJECTED[index], 401)
            _send(http, replica, _tampered(jwt_token), JWT_REJECTED[index], 401)
            sent = {
                "jwt accepted": JWT_ACCEPTED[index],
                "jwt rejected": JWT_REJECTED[index],
                "opaque accepted": OPAQUE_ACCEPTED[index],
                "opaque rejected": OPAQUE_REJECTED[index],
            }
            counted = added(by_kind_outcome(scrape(replica)), before)
            assert counted == {k: n for k, n in sent.items() if n}, (replica.base_url, counted)

    samples = [scrape(r) for r in cluster.replicas]
    expected: dict[str, int] = {}
    by_client: dict[str, int] = {}  # the by-client counter: every opaque validation
    for replica_samples in samples:
        for key, n in by_kind_outcome(replica_samples).items():
            expected[key] = expected.get(key, 0) + n
        for client, n in opaque_by_client(replica_samples).items():
            by_client[client] = by_client.get(client, 0) + n
    # Every opaque token accepted in this module is the legacy client's.
    assert by_client.get(cluster.legacy.client.client_id) == expected.get("opaque accepted"), (
        by_client,
        expected,
    )
    accepted_clients = {cluster.legacy.client.client_id: expected["opaque accepted"]}

    prometheus = cluster.prometheus

    def caught_up() -> bool | None:
        rows = prometheus.query(f"sum by (kind, outcome) ({VALIDATIONS})")
        seen = {
            f"{r['metric']['kind']} {r['metric']['outcome']}": round(float(r["value"][1]))
            for r in rows
        }
        seen = {k: n for k, n in sorted(seen.items()) if n}
        clients = prometheus.query(f'sum by (client_id) ({BY_CLIENT}{{kind="opaque"}})')
        seen_clients = {
            r["metric"].get("client_id", ""): round(float(r["value"][1])) for r in clients
        }
        return True if seen == expected and seen_clients == by_client else None

    prometheus.wait_for(caught_up, f"Prometheus holds {expected}", timeout=SCRAPE_WAIT)

    result = run_migrate(
        "status",
        str(cluster.root),
        "--prometheus",
        prometheus.url,
        "--format",
        "json",
        cwd=cluster.root.parent,
    )
    try:
        report: dict[str, Any] | None = json.loads(result.stdout)
    except ValueError:
        report = None
    return StatusRun(
        result=result,
        report=report,
        expected=expected,
        expected_clients=accepted_clients,
        started=[total(s, STARTED) for s in samples],
        last_opaque_accepted=[total(s, LAST_OPAQUE_ACCEPTED) for s in samples],
        prometheus_url=prometheus.url,
    )


def _report(run: StatusRun) -> dict[str, Any]:
    assert run.report is not None, run.result.describe()
    return run.report


def test_status_with_prometheus_is_not_ready(status_run: StatusRun) -> None:
    """`migrate status --prometheus` exits 7 (not ready) with the evidence from Prometheus."""
    assert status_run.result.returncode == 7, status_run.result.describe()
    report = _report(status_run)
    assert report["ready"] is False, report
    assert report["phase"] == "hybrid", report
    assert report["persistent"] is True, report
    assert report["evidence"]["source"] == status_run.prometheus_url, report


def test_status_sums_validations_over_both_replicas(status_run: StatusRun) -> None:
    """The last-hour and last-day counts are the sums of both replicas' own counters."""
    evidence = _report(status_run)["evidence"]
    for window in ("last_hour", "last_day"):
        # status --format json spells "kind outcome" as kind_outcome (no spaces in keys).
        reported = {k.replace("_", " "): n for k, n in sorted(evidence[window].items()) if n}
        assert reported == status_run.expected, (
            f"{window}: status reported {reported}, the replicas counted {status_run.expected} "
            f"(replica 1 + replica 2)\n{status_run.result.describe()}"
        )


def test_status_lists_the_opaque_client_with_its_summed_count(status_run: StatusRun) -> None:
    """The legacy client is listed with its accepted opaque count summed over both replicas."""
    evidence = _report(status_run)["evidence"]
    reported = {c["client_id"]: c["count"] for c in evidence["opaque_clients"]}
    for client, count in status_run.expected_clients.items():
        assert reported.get(client) == count, (
            f"client {client}: status reported {reported}, the replicas accepted {count} opaque "
            f"validations for it\n{status_run.result.describe()}"
        )


def test_status_clients_are_only_those_whose_opaque_tokens_were_accepted(
    status_run: StatusRun,
) -> None:
    """Rejected unknown opaque tokens add no client to the list, as with the metrics file."""
    evidence = _report(status_run)["evidence"]
    reported = {c["client_id"]: c["count"] for c in evidence["opaque_clients"]}
    assert reported == status_run.expected_clients, (
        f"status listed {reported}; opaque tokens were accepted only for "
        f"{status_run.expected_clients}\n{status_run.result.describe()}"
    )


def test_status_timestamps_span_both_replicas(status_run: StatusRun) -> None:
    """The hybrid start is the earliest replica's, the last opaque acceptance the latest one's."""
    evidence = _report(status_run)["evidence"]
    assert evidence["started"] == pytest.approx(min(status_run.started), abs=1e-3), evidence
    assert evidence["last_opaque_accepted"] == pytest.approx(
        max(status_run.last_opaque_accepted), abs=1e-3
    ), evidence
