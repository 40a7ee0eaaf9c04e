"""The verification checklist of STANDARDS.md, one small function per check: discovery.

Every function takes what was fetched (an :class:`Answer`, a parsed document) and returns
one :class:`Check` whose message says what was found and the rule it breaks, so the
functions can be tested with crafted inputs and the runner only fetches. FAIL means a
requirement of the migrated (hybrid or final) server is unmet; WARN a deviation from a
SHOULD; SKIP that a prerequisite check failed, and the message names it.

Here: the verdict type and what a client reads before it sends a token (RFC 8414
metadata, the JWKS, RFC 9728 metadata, the 401 challenge). The token and introspection
checks are in :mod:`migrate.verify.token_checks`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import jwt

from migrate.verify.client import Answer

ALGS_BY_KTY = {"RSA": ("RS256", "PS256"), "EC": ("ES256",), "OKP": ("EdDSA",)}
PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
SECRET_METHODS = ("client_secret_basic", "client_secret_post")
MIN_RSA_BITS = 2048


class Status(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    WARN = "WARN"
    SKIP = "SKIP"


@dataclass(frozen=True)
class Check:
    id: str
    status: Status
    message: str

    def to_json(self) -> dict[str, str]:
        return {"id": self.id, "status": str(self.status), "message": self.message}


def passed(check_id: str, message: str) -> Check:
    return Check(check_id, Status.PASS, message)


def failed(check_id: str, message: str) -> Check:
    return Check(check_id, Status.FAIL, message)


def warned(check_id: str, message: str) -> Check:
    return Check(check_id, Status.WARN, message)


def skipped(check_id: str, message: str) -> Check:
    return Check(check_id, Status.SKIP, message)


# -- RFC 8414 authorization server metadata ----------------------------------------------


def metadata_document(answer: Answer, base_url: str) -> Check:
    """The metadata is JSON, names this issuer and the endpoints of the code flow."""
    document = answer.json_object()
    if answer.status != 200 or document is None:
        return failed("metadata", f"no RFC 8414 metadata: {answer.describe()}")
    issuer = document.get("issuer")
    missing = [
        name for name in ("authorization_endpoint", "token_endpoint") if name not in document
    ]
    if missing:
        return failed("metadata", f"{' and '.join(missing)} missing (RFC 8414 §2)")
    if issuer == base_url:
        return passed("metadata", f"issuer {issuer}")
    if isinstance(issuer, str) and issuer.rstrip("/") == base_url:
        return warned(
            "metadata",
            f'issuer "{issuer}" differs from "{base_url}" by a trailing slash '
            "(RFC 8414 §3.3: identical to the URL the metadata was fetched for)",
        )
    return failed("metadata", f'issuer {issuer!r} is not "{base_url}" (RFC 8414 §3.3: identical)')


def metadata_jwks_uri(metadata: Mapping[str, Any]) -> Check:
    """``jwks_uri`` tells resource servers where the token-signing keys are."""
    value = metadata.get("jwks_uri")
    if isinstance(value, str) and value.startswith(("https://", "http://")):
        return passed("metadata.jwks_uri", f"jwks_uri {value}")
    found = "no jwks_uri" if value is None else f"jwks_uri {value!r} is not an http(s) URL"
    return failed(
        "metadata.jwks_uri",
        f"{found}: resource servers cannot find the keys that verify JWTs (RFC 8414 §2)",
    )


def metadata_introspection(metadata: Mapping[str, Any]) -> Check:
    """``introspection_endpoint``, behind client authentication (RFC 7662 §2.1)."""
    endpoint = metadata.get("introspection_endpoint")
    methods = metadata.get("introspection_endpoint_auth_methods_supported")
    check_id = "metadata.introspection"
    if not isinstance(endpoint, str):
        found = "no" if endpoint is None else f"a non-string ({endpoint!r})"
        return failed(check_id, f"{found} introspection_endpoint (RFC 8414 §2, RFC 7662 §2)")
    if methods is None:
        return warned(
            check_id,
            f"introspection_endpoint {endpoint}, but no "
            "introspection_endpoint_auth_methods_supported: callers must guess (RFC 8414 §2)",
        )
    if not isinstance(methods, list) or "none" in methods:
        return failed(
            check_id,
            f"introspection_endpoint_auth_methods_supported is {methods!r}: introspection "
            "MUST authenticate its callers (RFC 7662 §2.1)",
        )
    if not any(method in SECRET_METHODS for method in methods):
        return warned(check_id, f"auth methods {methods}: neither client_secret_basic nor _post")
    return passed(check_id, f"introspection_endpoint {endpoint} ({', '.join(methods)})")


def metadata_pkce(metadata: Mapping[str, Any]) -> Check:
    """S256 advertised: MCP clients must refuse to proceed otherwise."""
    methods = metadata.get("code_challenge_methods_supported")
    if isinstance(methods, list) and "S256" in methods:
        return passed("metadata.pkce_s256", "code_challenge_methods_supported has S256")
    return failed(
        "metadata.pkce_s256",
        f"code_challenge_methods_supported is {methods!r}, without S256: MCP clients must "
        "refuse to proceed (RFC 8414 §2, RFC 7636, MCP authorization spec)",
    )


def pkce_enforced(answer: Answer) -> Check:
    """A token request with the wrong ``code_verifier`` is refused (RFC 7636 §4.6): else
    the S256 the metadata advertises protects nothing against a stolen code."""
    body = answer.json_object() or {}
    if answer.status == 200 and isinstance(body.get("access_token"), str):
        return warned(
            "token.pkce_enforced",
            "S256 is advertised but the token endpoint issued a token for a wrong "
            "code_verifier: PKCE is not enforced (RFC 7636 §4.6); verify the verifier "
            "against the stored code_challenge",
        )
    return passed("token.pkce_enforced", f"a wrong code_verifier is refused ({answer.status})")


# -- the JWKS (RFC 7517, RFC 7518) -------------------------------------------------------


def jwks_document(answer: Answer) -> Check:
    """The ``jwks_uri`` serves a JSON object with a non-empty ``keys`` array of objects."""
    document = answer.json_object()
    if answer.status != 200 or document is None:
        return failed("jwks", f"no JWKS: {answer.describe()}")
    keys = document.get("keys")
    if not isinstance(keys, list) or not keys or not all(isinstance(k, dict) for k in keys):
        return failed("jwks", f"keys is not a non-empty array of objects: {answer.describe()}")
    return passed("jwks", f"{len(keys)} key(s) at {answer.request.split(' ', 1)[1]}")


def key_name(key: Mapping[str, Any], index: int) -> str:
    kid = key.get("kid")
    return f"kid {kid}" if isinstance(kid, str) else f"key #{index}"


def jwks_keys(keys: Sequence[Mapping[str, Any]]) -> Check:
    """Each key has a unique ``kid``, a signing ``kty`` and ``alg`` that fit, RSA >= 2048."""
    problems = [
        f"{key_name(key, index)}: {problem}"
        for index, key in enumerate(keys)
        for problem in _key_problems(key)
    ]
    kids: list[str] = [key["kid"] for key in keys if isinstance(key.get("kid"), str)]
    problems += [f"kid {kid} appears twice" for kid in sorted(set(kids)) if kids.count(kid) > 1]
    if problems:
        return failed("jwks.keys", "; ".join(problems) + " (RFC 7517 §4, RFC 7518)")
    rsa = sum(1 for key in keys if key.get("kty") == "RSA")
    if not rsa:
        return warned("jwks.keys", "no RSA key: RS256 is what every resource server supports")
    return passed("jwks.keys", f"{len(keys)} key(s) with kid, {rsa} RSA of >= {MIN_RSA_BITS} bits")


def _key_problems(key: Mapping[str, Any]) -> list[str]:
    kty, alg = key.get("kty"), key.get("alg")
    problems = [] if isinstance(key.get("kid"), str) and key["kid"] else ["no kid"]
    if not isinstance(kty, str) or kty not in ALGS_BY_KTY:
        return [*problems, f"kty {kty!r} is not a signing key type (RSA, EC, OKP)"]
    if "use" in key and key["use"] != "sig":
        problems.append(f'use {key["use"]!r}, not "sig"')
    if alg is not None and alg not in ALGS_BY_KTY[kty]:
        problems.append(f"alg {alg!r} does not fit kty {kty} (expected {ALGS_BY_KTY[kty]})")
    if kty == "RSA" and (bits := _modulus_bits(key.get("n"))) < MIN_RSA_BITS:
        problems.append(f"RSA modulus of {bits} bits, under {MIN_RSA_BITS}")
    return problems or _load_problems(key)


def _modulus_bits(n: Any) -> int:
    raw = decode_base64url(n) if isinstance(n, str) else None
    return int.from_bytes(raw, "big").bit_length() if raw else 0


def _load_problems(key: Mapping[str, Any]) -> list[str]:
    try:
        jwt.PyJWK(dict(key))
    except (jwt.PyJWTError, ValueError, TypeError) as problem:
        return [f"pyjwt cannot load it: {problem}"]
    return []


def jwks_private_members(keys: Sequence[Mapping[str, Any]]) -> Check:
    """No key carries private material: with it anyone could mint tokens."""
    leaks = [
        f"{key_name(key, index)} has {', '.join(m for m in PRIVATE_MEMBERS if m in key)}"
        for index, key in enumerate(keys)
        if any(member in key for member in PRIVATE_MEMBERS)
    ]
    if leaks:
        return failed(
            "jwks.private_members",
            f"private key material published ({'; '.join(leaks)}): anyone can sign tokens "
            "(RFC 7518 §6.2.2, §6.3.2)",
        )
    return passed("jwks.private_members", "public members only")


def jwks_cache_control(answer: Answer) -> Check:
    """A ``Cache-Control`` header tells relying parties how long keys may be cached."""
    value = answer.header("cache-control")
    if not value:
        return warned(
            "jwks.cache_control",
            "no Cache-Control: relying parties cannot tell how long to cache the keys "
            "across a rotation",
        )
    return passed("jwks.cache_control", f"Cache-Control: {value}")


# -- RFC 9728 protected resource metadata ------------------------------------------------


def prm_document(
    path_answer: Answer, root_answer: Answer, mcp_url: str, base_url: str | None = None
) -> Check:
    """The PRM is served (path-inserted URL first) and names this resource: the MCP
    endpoint or the server's base URL (by default the MCP URL's parent)."""
    served = [a for a in (path_answer, root_answer) if a.status == 200 and a.json_object()]
    if not served:
        return failed(
            "prm",
            "no RFC 9728 protected resource metadata (MCP servers MUST serve it): "
            f"{path_answer.describe()}; {root_answer.describe()}",
        )
    document = served[0].json_object() or {}
    resource = document.get("resource")
    base_url = base_url or mcp_url.rsplit("/", 1)[0]
    if resource not in (mcp_url, base_url):
        return failed("prm", f"resource is {resource!r}, not {mcp_url} (RFC 9728 §2, §3.3)")
    warnings = _prm_warnings(document, path_answer in served, mcp_url)
    where = served[0].request.split(" ", 1)[1]
    if warnings:
        return warned("prm", f"served at {where}, but " + "; ".join(warnings))
    return passed("prm", f"served at {where}: resource {resource}")


def _prm_warnings(document: Mapping[str, Any], at_path: bool, mcp_url: str) -> list[str]:
    warnings = []
    if not at_path and document.get("resource") == mcp_url:
        warnings.append("not at the path-inserted URL RFC 9728 §3.1 gives for the resource")
    methods = document.get("bearer_methods_supported")
    if methods is not None and (not isinstance(methods, list) or "header" not in methods):
        warnings.append(f'bearer_methods_supported {methods!r} lacks "header"')
    return warnings


def authorization_servers_problem(document: Mapping[str, Any], issuer: str) -> str | None:
    """Why the PRM's ``authorization_servers`` does not hold ``issuer`` byte for byte."""
    servers = document.get("authorization_servers")
    if not isinstance(servers, list) or not servers:
        return f"authorization_servers is {servers!r}, not a non-empty list (RFC 9728 §2)"
    if issuer in servers:
        return None
    near = [s for s in servers if isinstance(s, str) and s.rstrip("/") == issuer.rstrip("/")]
    if near:
        return (
            f'authorization_servers has "{near[0]}", which differs from the metadata issuer '
            f'"{issuer}" by a trailing slash: clients compare them byte for byte (RFC 8414 §3.3)'
        )
    return f'authorization_servers {servers} lacks the metadata issuer "{issuer}"'


def prm_authorization_servers(document: Mapping[str, Any], issuer: str) -> Check:
    """``authorization_servers`` holds the AS ``issuer`` byte for byte."""
    problem = authorization_servers_problem(document, issuer)
    if problem is not None:
        return failed("prm.authorization_servers", problem)
    return passed("prm.authorization_servers", f'lists the issuer "{issuer}" byte for byte')


# -- the 401 challenge at the MCP endpoint (RFC 6750 §3, RFC 9728 §5.1) ------------------


def challenge(answer: Answer) -> Check:
    """``POST /mcp`` without a token gets 401 with ``WWW-Authenticate: Bearer``."""
    header = answer.header("www-authenticate") or ""
    if answer.error is not None or answer.status != 401:
        return failed("challenge", f"expected 401 without a token: {answer.describe()}")
    if not header.lower().startswith("bearer"):
        return failed("challenge", f"401 without a Bearer challenge: WWW-Authenticate {header!r}")
    return passed("challenge", f"401 with WWW-Authenticate: {header}")


def challenge_resource_metadata(
    url: str | None, answer: Answer | None, issuer: str | None
) -> Check:
    """The challenge's ``resource_metadata`` URL serves PRM naming the issuer."""
    check_id = "challenge.resource_metadata"
    if url is None or answer is None:
        return failed(
            check_id,
            "the 401 challenge has no resource_metadata: clients cannot find the "
            "authorization server (RFC 9728 §5.1, MCP authorization spec)",
        )
    document = answer.json_object()
    if answer.status != 200 or document is None:
        return failed(check_id, f"resource_metadata {url} serves no metadata: {answer.describe()}")
    problem = authorization_servers_problem(document, issuer) if issuer else None
    if problem is not None:
        return failed(check_id, f"resource_metadata {url}: {problem}")
    return passed(check_id, f"resource_metadata {url} serves the protected resource metadata")


# -- encodings ------------------------------------------------------------------------


def decode_base64url(segment: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        return None
