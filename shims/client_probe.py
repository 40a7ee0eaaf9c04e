"""Authenticate introspection callers with the legacy server's own token endpoint.

RFC 7662 §2.1 wants introspection callers authenticated, and the clients that may call it
are the ones the legacy authorization server registered, in a registry whose shape the
kit cannot know. Its token endpoint knows them, though: it checks the client before the
grant. So the runtime asks it, in process, for a refresh grant with a made-up refresh
token. Only one answer shows the client passed: ``invalid_grant`` (RFC 6749 §5.2), the
refusal of the made-up grant itself. The same request with a wrong secret must then get
``401`` or ``invalid_client``, or the endpoint does not check secrets before grants (or the
client is public). Any other answer (``invalid_request`` from a check of the secret's
shape, a ``429`` rate limit, a ``5xx``) is unknown, and unknown is a refusal: the probe
fails closed. An empty or blank secret is refused without asking. A server can replace
all this with ``oauth_migration.authenticate_clients_with(check)``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote, urlencode

# A probe's answer: the HTTP status and body of one token request.
Answer = tuple[int, bytes]
# Sends one form POST (headers, body) to the token endpoint; sync or async per framework.
SyncSender = Callable[[dict[str, str], bytes], Answer]
AsyncSender = Callable[[dict[str, str], bytes], Awaitable[Answer]]

# Made-up tokens the runtime sends itself start with this, so metrics can leave them out.
PROBE_PREFIX = "oauth-migrate-probe-"
CACHE_SECONDS = 60.0
CACHE_SIZE = 1024


@dataclass(frozen=True)
class ProbeRequest:
    headers: dict[str, str]
    body: bytes


def requests_for(client_id: str, secret: str) -> list[ProbeRequest]:
    """The same refresh grant with client_secret_basic, then with client_secret_post."""
    grant = {
        "grant_type": "refresh_token",
        "refresh_token": PROBE_PREFIX + secrets.token_urlsafe(16),
    }
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    pair = f"{quote(client_id, safe='')}:{quote(secret, safe='')}"
    basic = "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")
    posted = {**grant, "client_id": client_id, "client_secret": secret}
    return [
        ProbeRequest({**form, "Authorization": basic}, urlencode(grant).encode("ascii")),
        ProbeRequest(form, urlencode(posted).encode("ascii")),
    ]


Verdict = Literal["client_passed", "client_refused", "unknown"]


def verdict(answer: Answer) -> Verdict:
    """What one answer to the made-up refresh grant says about the client credentials."""
    status, body = answer
    error = _error_code(body)
    if status == 401 or error == "invalid_client":
        return "client_refused"
    if 400 <= status < 500 and error == "invalid_grant":
        return "client_passed"
    return "unknown"


def _error_code(body: bytes) -> str | None:
    try:
        parsed = json.loads(body)
    except ValueError:  # also UnicodeDecodeError
        return None
    error = parsed.get("error") if isinstance(parsed, dict) else None
    return error if isinstance(error, str) else None


def _wrong(secret: str) -> str:
    return secret + "-not-" + secrets.token_urlsafe(8)


class _Cache:
    """Recently confirmed (client id, secret digest) pairs, so a caller costs one probe."""

    def __init__(self) -> None:
        self._until: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(client_id: str, secret: str) -> tuple[str, str]:
        return client_id, hashlib.sha256(secret.encode("utf-8")).hexdigest()

    def hit(self, client_id: str, secret: str) -> bool:
        return self._until.get(self.key(client_id, secret), 0.0) > time.monotonic()

    def record(self, client_id: str, secret: str, verdict: bool) -> bool:
        if verdict:
            with self._lock:
                if len(self._until) >= CACHE_SIZE:
                    self._until.clear()
                self._until[self.key(client_id, secret)] = time.monotonic() + CACHE_SECONDS
        return verdict


def _decide(client_id: str, secret: str) -> Generator[ProbeRequest, Answer, bool]:
    """Yields the token requests to send, receives their answers, returns the verdict."""
    if not secret.strip():
        return False
    right, wrong = requests_for(client_id, secret), requests_for(client_id, _wrong(secret))
    for good, bad in zip(right, wrong, strict=True):
        # Proof needs both answers from one way of sending the secret; anything less says
        # nothing (this way is not read, the client is public, an input check or a rate
        # limit answered): try the next way, and refuse when none proves it.
        if verdict((yield good)) != "client_passed":
            continue
        if verdict((yield bad)) == "client_refused":
            return True
    return False


class SyncProbe:
    def __init__(self, send: SyncSender) -> None:
        self.send = send
        self.cache = _Cache()

    def __call__(self, client_id: str, secret: str) -> bool:
        if self.cache.hit(client_id, secret):
            return True
        steps = _decide(client_id, secret)
        try:
            request = next(steps)
            while True:
                request = steps.send(self.send(request.headers, request.body))
        except StopIteration as done:
            return self.cache.record(client_id, secret, bool(done.value))


class AsyncProbe:
    def __init__(self, send: AsyncSender) -> None:
        self.send = send
        self.cache = _Cache()

    async def __call__(self, client_id: str, secret: str) -> bool:
        if self.cache.hit(client_id, secret):
            return True
        steps = _decide(client_id, secret)
        try:
            request = next(steps)
            while True:
                request = steps.send(await self.send(request.headers, request.body))
        except StopIteration as done:
            return self.cache.record(client_id, secret, bool(done.value))
