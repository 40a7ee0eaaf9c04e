"""The gate's cost beside its baselines, on the same tokens, in one run.

Baselines: a bare `cryptography` RSA verify (the floor), `jwt.decode` with the same
checks, and, for opaque tokens, the legacy dict lookup the gate wraps. Targets (issue 3):
uncached gate <= 1.5x raw verify, cached gate <= 2 us, opaque path <= legacy + 2 us.
"""

from __future__ import annotations

import secrets
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from shims.gate import TokenGate
from shims.keys import KeyFolder
from shims.minting import TokenMinter
from shims.verifier import JwtVerifier, b64url_decode

ISSUER = "https://mcp.example.com"
RESOURCE = ISSUER + "/mcp"
TOKENS = 2000
REPEATS = 5


def best_ns_per_call(run_once: Callable[[], int]) -> float:
    """Best of REPEATS runs; each run returns how many calls it made."""
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter_ns()
        calls = run_once()
        best = min(best, (time.perf_counter_ns() - start) / calls)
    return best


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = KeyFolder(Path(tmp) / "keys")
        folder.generate()
        ring = folder.ring()
    minter = TokenMinter(lambda: ring, issuer=ISSUER, default_audience=RESOURCE)
    tokens = [
        minter.mint(subject=f"user{i}", client_id="client", scope="mcp").token
        for i in range(TOKENS)
    ]
    public = ring.signing_key.public_key
    pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()
    split = [(t.rsplit(".", 1)[0].encode(), b64url_decode(t.rsplit(".", 1)[1])) for t in tokens]

    def raw_verify() -> int:
        for signing_input, signature in split:
            public.verify(signature, signing_input, pkcs1, sha256)
        return len(split)

    def pyjwt_decode() -> int:
        for token in tokens:
            jwt.decode(
                token,
                public,
                algorithms=["RS256"],
                issuer=ISSUER,
                audience=RESOURCE,
                options={"require": ["iss", "sub", "aud", "exp", "iat", "client_id", "jti"]},
            )
        return len(tokens)

    def new_gate() -> TokenGate[object]:
        verifier = JwtVerifier(ring, issuer=ISSUER, audiences=[RESOURCE])
        return TokenGate(verifier, mode="final")

    def gate_uncached() -> int:
        gate = new_gate()
        for token in tokens:
            if gate.resolve(token) is None:
                raise AssertionError("a valid token was refused")
        return len(tokens)

    warm = new_gate()
    for token in tokens:
        warm.resolve(token)

    def gate_cached() -> int:
        for token in tokens:
            warm.resolve(token)
        return len(tokens)

    legacy_store = {secrets.token_urlsafe(32): {"client_id": "c"} for _ in range(TOKENS)}
    opaque = list(legacy_store)
    hybrid: TokenGate[dict[str, str]] = TokenGate(
        JwtVerifier(ring, issuer=ISSUER, audiences=[RESOURCE]), legacy_lookup=legacy_store.get
    )

    def legacy_lookup() -> int:
        for token in opaque:
            legacy_store.get(token)
        return len(opaque)

    def gate_opaque() -> int:
        for token in opaque:
            hybrid.resolve(token, legacy=lambda t: legacy_store.get(t))
        return len(opaque)

    raw = best_ns_per_call(raw_verify)
    figures = [
        ("raw cryptography RSA verify", raw, None),
        ("jwt.decode (same checks)", best_ns_per_call(pyjwt_decode), raw),
        ("gate, uncached", best_ns_per_call(gate_uncached), raw),
        ("gate, cached", best_ns_per_call(gate_cached), None),
    ]
    lookup = best_ns_per_call(legacy_lookup)
    opaque_ns = best_ns_per_call(gate_opaque)
    print(f"gate benchmark: {TOKENS} RS256 tokens (RSA 2048), best of {REPEATS}")
    for name, ns, base in figures:
        ratio = f"  {ns / base:.2f}x raw verify" if base else ""
        print(f"  {name:<32} {ns / 1000:8.2f} us{ratio}")
    print(f"  {'legacy dict lookup':<32} {lookup / 1000:8.2f} us")
    print(
        f"  {'gate, opaque path (hybrid)':<32} {opaque_ns / 1000:8.2f} us"
        f"  legacy + {(opaque_ns - lookup) / 1000:.2f} us"
    )


if __name__ == "__main__":
    main()
