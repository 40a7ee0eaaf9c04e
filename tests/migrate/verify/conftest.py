"""Fixtures for the verify tests: a signing key for crafted tokens."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.migrate.verify.support import Signer


@pytest.fixture(scope="package")
def signer() -> Signer:
    return Signer(rsa.generate_private_key(public_exponent=65537, key_size=2048))
