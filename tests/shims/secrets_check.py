"""What counts as private key material when scanning logs and exception text."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from .forge import b64url

FRAGMENT = 24


def _chunks(text: str) -> set[str]:
    return {text[i : i + FRAGMENT] for i in range(0, max(len(text) - FRAGMENT, 0) + 1, FRAGMENT)}


def _number_forms(value: int) -> set[str]:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    forms = set()
    for text in (str(value), format(value, "x"), format(value, "X"), b64url(raw)):
        forms |= _chunks(text)
    return forms


def pem_body_fragments(pem: str) -> set[str]:
    """Pieces of every base64 body line of a PEM block."""
    fragments: set[str] = set()
    for line in pem.splitlines():
        if line and not line.startswith("-----"):
            fragments |= _chunks(line)
    return {f for f in fragments if len(f) >= 16}


def private_fragments(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> set[str]:
    """Pieces of the private numbers (decimal, hex, base64url) and of the PEM text."""
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    fragments = pem_body_fragments(pem)
    if isinstance(key, rsa.RSAPrivateKey):
        numbers = key.private_numbers()
        for value in (numbers.d, numbers.p, numbers.q, numbers.dmp1, numbers.dmq1, numbers.iqmp):
            fragments |= _number_forms(value)
    else:
        fragments |= _number_forms(key.private_numbers().private_value)
    return fragments


def leaked(text: str, fragments: set[str]) -> list[str]:
    return sorted(f for f in fragments if f in text)
