"""Run the checklist against a live server: fetch in order, call each check, gather facts.

Order matters: discovery first (the issuer and endpoints every later check compares
with), then the keys, the protected-resource metadata and the 401 challenge, then one
fresh token and its introspection. A check whose input could not be fetched because an
earlier check failed is SKIP and names that check.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from migrate.verify import checks, token_checks
from migrate.verify.checks import Check, Status, skipped
from migrate.verify.client import (
    Answer,
    Credentials,
    Endpoints,
    FlowError,
    Grant,
    Http,
    exchange_with_wrong_verifier,
    introspect,
    mcp_initialize,
    obtain_token,
)
from migrate.verify.token_checks import Expected
from shims.discovery import PRM_PATH

METADATA_PATH = "/.well-known/oauth-authorization-server"
MCP_PATH = "/mcp"  # the contract's MCP endpoint; `verify --mcp-path` names another
JWKS_CHECKS = ("jwks", "jwks.keys", "jwks.private_members", "jwks.cache_control")
JWT_CHECKS = (
    "token.header",
    "token.typ",
    "token.signature",
    "token.claims",
    "token.lifetime",
    "token.jti",
)
INTROSPECTION_CHECKS = ("introspect.token", "introspect.inactive", "introspect.requires_auth")
_RESOURCE_METADATA = re.compile(r'resource_metadata\s*=\s*(?:"([^"]*)"|([^\s,]+))', re.I)


def resource_metadata_url(challenge: str | None) -> str | None:
    """The ``resource_metadata`` parameter of a ``WWW-Authenticate`` challenge."""
    found = _RESOURCE_METADATA.search(challenge or "")
    return (found.group(1) or found.group(2)) if found else None


@dataclass
class Verification:
    """One run: the server, the optional introspection caller, and what was learnt so far."""

    http: Http
    base_url: str
    caller: Credentials | None = None
    checks: list[Check] = field(default_factory=list)
    metadata: dict[str, Any] | None = None
    keys: list[dict[str, Any]] | None = None
    prm: dict[str, Any] | None = None
    grant: Grant | None = None
    claims: dict[str, Any] | None = None
    on_check: Callable[[Check], None] | None = None  # called as each check completes
    mcp_path: str = MCP_PATH

    @property
    def mcp_url(self) -> str:
        return self.base_url + self.mcp_path

    @property
    def issuer(self) -> str | None:
        issuer = (self.metadata or {}).get("issuer")
        return issuer if isinstance(issuer, str) else None

    def add(self, check: Check) -> None:
        self.checks.append(check)
        if self.on_check is not None:
            self.on_check(check)

    def skip(self, ids: tuple[str, ...], reason: str) -> None:
        for check_id in ids:
            self.add(skipped(check_id, reason))

    def run(self) -> list[Check]:
        answer = self.http.get(self.base_url + METADATA_PATH)
        if _unreachable(answer):
            # Every later check would fail or skip for the same reason: say it once.
            self.add(checks.failed("connect", _cannot_connect(self.base_url, answer)))
            return self.checks
        self.check_metadata(answer)
        self.check_jwks()
        self.check_prm()
        self.check_challenge()
        self.check_token()
        self.check_pkce_enforced()
        self.check_introspection()
        return self.checks

    def check_metadata(self, answer: Answer) -> None:
        self.add(checks.metadata_document(answer, self.base_url))
        self.metadata = answer.json_object() if answer.status == 200 else None
        ids = ("metadata.jwks_uri", "metadata.introspection", "metadata.pkce_s256")
        if self.metadata is None:
            return self.skip(ids, "no metadata document (metadata)")
        self.add(checks.metadata_jwks_uri(self.metadata))
        self.add(checks.metadata_introspection(self.metadata))
        self.add(checks.metadata_pkce(self.metadata))

    def check_jwks(self) -> None:
        jwks_uri = (self.metadata or {}).get("jwks_uri")
        if not isinstance(jwks_uri, str):
            return self.skip(JWKS_CHECKS, "no jwks_uri to fetch (metadata.jwks_uri)")
        answer = self.http.get(jwks_uri)
        document = checks.jwks_document(answer)
        self.add(document)
        if document.status is Status.FAIL:
            return self.skip(JWKS_CHECKS[1:], "no JWKS to read (jwks)")
        self.keys = (answer.json_object() or {})["keys"]
        self.add(checks.jwks_keys(self.keys))
        self.add(checks.jwks_private_members(self.keys))
        self.add(checks.jwks_cache_control(answer))

    def check_prm(self) -> None:
        # RFC 9728 §3.1: the well-known path goes before the resource's own path.
        path_answer = self.http.get(self.base_url + PRM_PATH + self.mcp_path)
        root_answer = self.http.get(self.base_url + PRM_PATH)
        document = checks.prm_document(path_answer, root_answer, self.mcp_url, self.base_url)
        self.add(document)
        served = [a.json_object() for a in (path_answer, root_answer) if a.status == 200]
        self.prm = next((body for body in served if body is not None), None)
        if self.prm is None:
            return self.skip(("prm.authorization_servers",), "no PRM document (prm)")
        if self.issuer is None:
            return self.skip(("prm.authorization_servers",), "no issuer to compare (metadata)")
        self.add(checks.prm_authorization_servers(self.prm, self.issuer))

    def check_challenge(self) -> None:
        answer = mcp_initialize(self.http, self.mcp_url, None)
        found = checks.challenge(answer)
        self.add(found)
        if found.status is Status.FAIL:
            return self.skip(("challenge.resource_metadata",), "no Bearer challenge (challenge)")
        url = resource_metadata_url(answer.header("www-authenticate"))
        fetched = self.http.get(url) if url is not None else None
        self.add(checks.challenge_resource_metadata(url, fetched, self.issuer))

    def authorization_params(self) -> dict[str, str]:
        """The RFC 8707 ``resource`` and the advertised scopes, as MCP clients send them."""
        prm, metadata = self.prm or {}, self.metadata or {}
        resource = prm.get("resource")
        params = {"resource": resource if isinstance(resource, str) else self.mcp_url}
        scopes = prm.get("scopes_supported") or metadata.get("scopes_supported")
        if isinstance(scopes, list) and all(isinstance(s, str) for s in scopes) and scopes:
            params["scope"] = " ".join(scopes)
        return params

    def check_token(self) -> None:
        ids = ("token.obtain", "mcp.token_accepted", "token.format", *JWT_CHECKS)
        if self.metadata is None:
            return self.skip(ids, "no metadata to find the endpoints in (metadata)")
        endpoints = Endpoints.from_metadata(self.metadata, self.base_url)
        outcome: Grant | FlowError
        try:
            outcome = obtain_token(self.http, endpoints, self.authorization_params())
        except FlowError as problem:
            outcome = problem
        self.add(token_checks.token_obtained(outcome))
        if isinstance(outcome, FlowError):
            return self.skip(ids[1:], "no access token (token.obtain)")
        self.grant = outcome
        token = outcome.access_token
        self.add(token_checks.mcp_token_accepted(mcp_initialize(self.http, self.mcp_url, token)))
        self.add(token_checks.token_format(token))
        if self.checks[-1].status is Status.FAIL:
            return self.skip(JWT_CHECKS, "the access token is not a JWT (token.format)")
        self.check_jwt(token)

    def check_pkce_enforced(self) -> None:
        """Only where S256 is advertised and the honest flow worked: then a refusal can
        only be the verifier's."""
        methods = (self.metadata or {}).get("code_challenge_methods_supported")
        if self.metadata is None or not isinstance(methods, list) or "S256" not in methods:
            return self.skip(("token.pkce_enforced",), "S256 not advertised (metadata.pkce_s256)")
        if self.grant is None:
            return self.skip(("token.pkce_enforced",), "no code flow to repeat (token.obtain)")
        endpoints = Endpoints.from_metadata(self.metadata, self.base_url)
        try:
            answer = exchange_with_wrong_verifier(self.http, endpoints, self.authorization_params())
        except FlowError as problem:
            return self.skip(("token.pkce_enforced",), f"the code flow failed: {problem}")
        self.add(checks.pkce_enforced(answer))

    def check_jwt(self, token: str) -> None:
        header_segment, payload_segment, _ = token.split(".")
        header = token_checks.decode_segment(header_segment) or {}
        claims = token_checks.decode_segment(payload_segment)
        keys = self.keys or []
        self.add(token_checks.token_header(header, keys))
        self.add(token_checks.token_typ(header))
        self.add(token_checks.token_signature(token, header, keys))
        if claims is None:
            self.add(checks.failed("token.claims", "the payload is not a JSON object"))
            return self.skip(JWT_CHECKS[-2:], "no claims to read (token.claims)")
        self.claims = claims
        self.add(token_checks.token_claims(claims, self.expected(), time.time()))
        self.add(token_checks.token_lifetime(claims))
        self.add(token_checks.token_jti(claims))

    def expected(self) -> Expected:
        assert self.grant is not None
        resource = (self.prm or {}).get("resource")
        audiences = (self.mcp_url, resource) if isinstance(resource, str) else (self.mcp_url,)
        return Expected(self.issuer or self.base_url, audiences, self.grant.client.client_id)

    def introspection_caller(self) -> Credentials | None:
        """``--client-id/--client-secret`` if given, else the client registered for the token."""
        if self.caller is not None:
            return self.caller
        client = self.grant.client if self.grant is not None else None
        return client if client is not None and client.client_secret is not None else None

    def check_introspection(self) -> None:
        endpoint = (self.metadata or {}).get("introspection_endpoint")
        if not isinstance(endpoint, str):
            reason = "no introspection_endpoint (metadata.introspection)"
            return self.skip(INTROSPECTION_CHECKS, reason)
        caller = self.introspection_caller()
        if caller is None:
            reason = "no client credentials: give --client-id/--client-secret (token.obtain)"
            self.skip(INTROSPECTION_CHECKS[:2], reason)
        else:
            self.introspect_as(endpoint, caller)
        self.check_introspection_auth(endpoint, caller)

    def introspect_as(self, endpoint: str, caller: Credentials) -> None:
        if self.claims is not None and self.grant is not None:
            # The token's own client: a server may (and the kit's runtime does) hide a
            # token from other clients, since open registration makes anyone a client.
            own = self.grant.client
            asker = own if own.client_secret is not None else caller
            answer = introspect(self.http, endpoint, self.grant.access_token, asker)
            self.add(token_checks.introspection_of_token(answer, self.claims))
        else:
            self.skip(INTROSPECTION_CHECKS[:1], "no JWT access token (token.format)")
        made_up = "verify-" + secrets.token_urlsafe(24)
        answer = introspect(self.http, endpoint, made_up, caller)
        self.add(token_checks.introspection_of_garbage(answer))

    def check_introspection_auth(self, endpoint: str, caller: Credentials | None) -> None:
        token = self.grant.access_token if self.grant else "verify-" + secrets.token_urlsafe(24)
        anonymous = introspect(self.http, endpoint, token, None)
        wrong_secret = None
        if caller is not None:
            impostor = Credentials(caller.client_id, "not-" + secrets.token_urlsafe(16))
            wrong_secret = introspect(self.http, endpoint, token, impostor)
        self.add(token_checks.introspection_requires_auth(anonymous, wrong_secret))


def _unreachable(answer: Answer) -> bool:
    """No TCP connection at all (refused, no route, timed out connecting)."""
    return answer.error is not None and answer.error.startswith(("ConnectError", "ConnectTimeout"))


def _cannot_connect(base_url: str, answer: Answer) -> str:
    message = f"cannot connect to {base_url}: {answer.error}"
    if base_url.startswith("https://") and "SSL" in (answer.error or ""):
        message += " (does the server speak plain http://?)"
    return message


def run_checks(
    base_url: str,
    caller: Credentials | None = None,
    timeout: float = 15.0,
    on_check: Callable[[Check], None] | None = None,
    mcp_path: str = MCP_PATH,
) -> list[Check]:
    """Every check against the server at ``base_url`` whose MCP endpoint is at
    ``mcp_path``, in order; ``on_check`` sees each one as it completes (the command prints
    it at once)."""
    http = Http(timeout)
    path = "/" + mcp_path.strip("/")
    try:
        verification = Verification(http, base_url.rstrip("/"), caller, on_check=on_check)
        verification.mcp_path = path
        return verification.run()
    finally:
        http.close()
