"""Fixtures shared by the shims tests: one real key folder per session, a foreign key."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from shims.keys import KeyFolder, KeyRing

from .forge import Forge
from .helpers import Clock


@pytest.fixture(scope="session")
def key_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A key folder with an active, a retiring and a staged key (generated once: RSA is slow)."""
    folder = tmp_path_factory.mktemp("shims") / "keys"
    keys = KeyFolder(folder)
    keys.generate()
    keys.rotate()
    keys.promote()
    keys.rotate()
    return folder


@pytest.fixture(scope="session")
def ring(key_folder: Path) -> KeyRing:
    return KeyRing.from_folder(key_folder)


@pytest.fixture(scope="session")
def foreign_key() -> rsa.RSAPrivateKey:
    """An RSA key that is not in our ring: what an attacker signs with."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def forge(ring: KeyRing, foreign_key: rsa.RSAPrivateKey) -> Forge:
    return Forge(ring, foreign_key)


@pytest.fixture
def clock() -> Clock:
    return Clock()
