"""The client probe: which token-endpoint answers prove a client secret right (finding 9).

The token endpoints here are plain functions over the probe's real requests (the form and
Basic header it sends), standing for a legacy ``/token`` that checks clients before grants.
"""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, unquote

import pytest

from shims.client_probe import Answer, SyncProbe

SECRET = "s3cret"


def _secret_of(headers: dict[str, str], body: bytes) -> str:
    authorization = headers.get("Authorization", "")
    if authorization.startswith("Basic "):
        pair = base64.b64decode(authorization[6:]).decode()
        return unquote(pair.partition(":")[2])
    return parse_qs(body.decode(), keep_blank_values=True).get("client_secret", [""])[0]


def _endpoint(right: Answer, wrong: Answer = (401, b'{"error": "invalid_client"}')):
    """A token endpoint answering ``right`` to the client's real secret, ``wrong`` otherwise."""
    calls: list[str] = []

    def send(headers: dict[str, str], body: bytes) -> Answer:
        secret = _secret_of(headers, body)
        calls.append(secret)
        return right if secret == SECRET else wrong

    send.calls = calls  # type: ignore[attr-defined]
    return send


def _json(status: int, error: str) -> Answer:
    return status, json.dumps({"error": error}).encode()


def test_finding_9_invalid_grant_for_the_secret_and_invalid_client_otherwise_is_proof() -> None:
    """The expected pair of answers (invalid_grant, then invalid_client) authenticates."""
    assert SyncProbe(_endpoint(_json(400, "invalid_grant")))("conf", SECRET) is True


@pytest.mark.parametrize(
    "right",
    [
        _json(400, "invalid_request"),
        _json(429, "slow_down"),
        (429, b"Too Many Requests"),
        _json(503, "temporarily_unavailable"),
        (400, b"invalid_grant, but not as JSON"),
        (200, b"{}"),
        _json(403, "access_denied"),
    ],
    ids=["invalid_request", "429_json", "429_text", "503", "not_json", "200", "403"],
)
def test_finding_9_any_other_answer_to_the_secret_is_unknown_and_refused(right: Answer) -> None:
    """An answer other than invalid_grant proves nothing about the secret: refused."""
    assert SyncProbe(_endpoint(right))("conf", SECRET) is False


@pytest.mark.parametrize(
    "wrong", [_json(400, "invalid_request"), _json(429, "slow_down"), _json(400, "invalid_grant")]
)
def test_finding_9_a_wrong_secret_must_get_invalid_client(wrong: Answer) -> None:
    """Unless a wrong secret is refused as invalid_client (or 401), the secret is not proven."""
    assert SyncProbe(_endpoint(_json(400, "invalid_grant"), wrong))("conf", SECRET) is False


@pytest.mark.parametrize("secret", ["", " ", "\t", " \n "])
def test_finding_9_a_blank_secret_never_authenticates(secret: str) -> None:
    """An empty or blank secret is refused without asking the token endpoint."""
    endpoint = _endpoint(_json(400, "invalid_grant"), _json(400, "invalid_grant"))
    assert SyncProbe(endpoint)("conf", secret) is False
    assert endpoint.calls == []  # type: ignore[attr-defined]
