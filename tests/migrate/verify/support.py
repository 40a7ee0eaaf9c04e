"""Helpers for the verify tests: run the command, read its lines, build answers and tokens."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives.asymmetric import rsa

from migrate.cli import cli
from migrate.verify.client import Answer

ISSUER = "http://127.0.0.1:8000"
MCP_URL = ISSUER + "/mcp"
CLIENT_ID = "client-1"


def run_verify(url: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["verify", url, *args])


def verdicts(output: str) -> dict[str, tuple[str, str]]:
    """Check id -> (status, message), from the text output's check lines."""
    lines = [line for line in output.splitlines() if not line.startswith("verify: ")]
    parsed = (line.split(maxsplit=2) for line in lines)
    return {parts[1]: (parts[0], parts[2] if len(parts) > 2 else "") for parts in parsed}


def failing(output: str) -> set[str]:
    return {check_id for check_id, (status, _) in verdicts(output).items() if status == "FAIL"}


def json_answer(body: Any, status: int = 200, url: str = ISSUER) -> Answer:
    headers = {"content-type": "application/json"}
    return Answer(f"GET {url}", status, headers, json.dumps(body))


@dataclass(frozen=True)
class Signer:
    """An RSA key that signs test tokens, and its public JWK."""

    private_key: rsa.RSAPrivateKey
    kid: str = "test-kid"

    @property
    def jwk(self) -> dict[str, Any]:
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {**public, "kid": self.kid, "use": "sig", "alg": "RS256"}

    def mint(
        self, claims: Mapping[str, Any] | None = None, header: Mapping[str, Any] | None = None
    ) -> str:
        """An RFC 9068 access token; ``claims`` and ``header`` override the good defaults."""
        full_header = {"typ": "at+jwt", "kid": self.kid, **(header or {})}
        return jwt.encode(
            {**good_claims(), **(claims or {})},
            self.private_key,
            algorithm="RS256",
            headers=full_header,
        )


def good_claims() -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": ISSUER,
        "sub": "alice",
        "aud": MCP_URL,
        "client_id": CLIENT_ID,
        "scope": "mcp:tools profile",
        "iat": now,
        "exp": now + 3600,
        "jti": "jti-1",
    }
