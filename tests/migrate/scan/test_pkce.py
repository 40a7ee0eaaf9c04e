"""Whether the token endpoint verifies the PKCE code_verifier, followed through the data."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrate.scan.pkce import find_pkce
from migrate.scan.source import SourceTree

HELPER = (
    "import base64, hashlib, hmac\n\n\n"
    "def s256(value):\n"
    "    return base64.urlsafe_b64encode(hashlib.sha256(value.encode()).digest()).rstrip(b'=')\n"
)


def _reading(root: Path, token_endpoint: str, helper: str = HELPER) -> tuple[str | None, bool]:
    (root / "pkce_util.py").write_text(helper, encoding="utf-8")
    (root / "oauth.py").write_text(token_endpoint, encoding="utf-8")
    found = find_pkce(SourceTree(root))
    return found.where, found.verified


@pytest.mark.parametrize(
    "endpoint",
    [
        # bound, hashed inline, compared with ==
        "import hashlib\n\n\ndef token(form, grant):\n"
        "    verifier = form['code_verifier']\n"
        "    digest = hashlib.sha256(verifier.encode()).hexdigest()\n"
        "    if digest != grant['challenge']:\n        raise ValueError\n",
        # read in place, passed to a tree helper that hashes, compare_digest
        "import hmac\nfrom pkce_util import s256\n\n\ndef token(form, grant):\n"
        "    if not hmac.compare_digest(s256(form.get('code_verifier', '')), grant['c']):\n"
        "        raise ValueError\n",
        # a parameter so named, handed to a checking helper
        "import hashlib\n\n\ndef check(v, challenge):\n"
        "    return hashlib.sha256(v.encode()).digest() == challenge\n\n\n"
        "def token(code_verifier, grant):\n"
        "    if not check(code_verifier, grant.challenge):\n        raise ValueError\n",
        # annotated assignments all the way
        "import hashlib\n\n\ndef token(form, grant):\n"
        "    verifier: str = form['code_verifier']\n"
        "    digest: bytes = hashlib.sha256(verifier.encode()).digest()\n"
        "    if digest != grant['challenge']:\n        raise ValueError\n",
        # the hashing helper imported under another name
        "import hmac\nfrom pkce_util import s256 as _expected\n\n\ndef token(form, grant):\n"
        "    if not hmac.compare_digest(_expected(form['code_verifier']), grant['c']):\n"
        "        raise ValueError\n",
    ],
)
def test_a_compared_digest_of_the_verifier_is_verified(tmp_path: Path, endpoint: str) -> None:
    """The verifier's SHA-256 compared with something: verified, whatever the names."""
    where, verified = _reading(tmp_path, endpoint)
    assert verified and where is not None and where.startswith("oauth.py:")


@pytest.mark.parametrize(
    "endpoint",
    [
        # read and logged, never compared
        "def token(form):\n    print(len(form.get('code_verifier', '')))\n",
        # compared as it is: the plain method, not S256
        "def token(form, grant):\n"
        "    if form['code_verifier'] != grant['challenge']:\n        raise ValueError\n",
        # a checking helper called, its answer dropped
        "import hashlib\n\n\ndef check(v, challenge):\n"
        "    return hashlib.sha256(v.encode()).digest() == challenge\n\n\n"
        "def token(form, grant):\n    check(form['code_verifier'], grant['c'])\n",
        # hashed, but the digest is only stored
        "import hashlib\n\n\ndef token(form, grant):\n"
        "    grant['seen'] = hashlib.sha256(form['code_verifier'].encode()).hexdigest()\n",
    ],
)
def test_a_verifier_not_compared_by_digest_is_not_verified(tmp_path: Path, endpoint: str) -> None:
    """Read but never hashed and compared: not verified, located where it is read."""
    where, verified = _reading(tmp_path, endpoint)
    assert not verified and where is not None and where.startswith("oauth.py:")


def test_no_verifier_anywhere_is_not_verified(tmp_path: Path) -> None:
    """A token endpoint that never reads code_verifier: not verified, nowhere to point."""
    assert _reading(tmp_path, "def token(form):\n    return form['code']\n") == (None, False)
