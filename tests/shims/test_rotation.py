"""Key rotation on a real key folder: tokens survive rotate + promote until their key retires."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from shims.keys import CLOCK_SKEW, JWKS_MAX_AGE, KeyFolder, KeyProblem, RetireTooEarly
from shims.minting import TokenMinter
from shims.runtime import KEY_RECHECK_SECONDS

from .forge import ISSUER, RESOURCE, Forge
from .helpers import UNKNOWN, Clock, make_gate, make_migration

LIFETIME = 3600


@pytest.fixture
def folder(tmp_path: Path, clock: Clock) -> KeyFolder:
    keys = KeyFolder(tmp_path / "keys", clock=clock)
    keys.generate()
    return keys


def _mint(folder: KeyFolder) -> str:
    minter = TokenMinter(folder.ring, issuer=ISSUER, default_audience=RESOURCE)
    return minter.mint(subject="user-1", client_id="client-1").token


def _rotated(folder: KeyFolder, clock: Clock) -> None:
    folder.rotate()
    clock.advance(JWKS_MAX_AGE)  # readers first: wait out the JWKS cache before signing
    folder.promote()


def test_token_survives_rotate_and_promote(folder: KeyFolder, clock: Clock) -> None:
    """A token signed before rotate + promote still validates after the gate re-reads the ring."""
    old_token = _mint(folder)
    gate = make_gate(folder.ring(), "final")
    assert gate.resolve(old_token) is not UNKNOWN
    _rotated(folder, clock)
    gate.use_keyring(folder.ring())
    assert gate.resolve(old_token) is not UNKNOWN


def test_new_key_signs_after_promote(folder: KeyFolder, clock: Clock) -> None:
    """After promote, new tokens carry the new key's kid and validate next to the old ones."""
    first_kid = folder.ring().signing_key.kid
    _rotated(folder, clock)
    ring = folder.ring()
    assert ring.signing_key.kid != first_kid
    assert ring.by_kid[first_kid].state == "retiring"
    new_token = _mint(folder)
    assert make_gate(ring, "final").resolve(new_token) is not UNKNOWN


def test_retire_refuses_early(folder: KeyFolder, clock: Clock) -> None:
    """retire() refuses while a retiring key may have signed a live token, naming when."""
    _rotated(folder, clock)
    retiring = next(k for k in folder.ring().keys if k.state == "retiring")
    not_before = clock.now + LIFETIME + JWKS_MAX_AGE + CLOCK_SKEW
    with pytest.raises(RetireTooEarly) as caught:
        folder.retire(LIFETIME)
    assert caught.value.not_before == [pytest.approx(not_before)]
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(not_before))
    assert f"{retiring.kid} not before {when}" in str(caught.value)
    assert retiring.kid in folder.ring().by_kid


def test_retire_with_force(folder: KeyFolder, clock: Clock) -> None:
    """retire(force=True) drops the retiring key and its file at once."""
    _rotated(folder, clock)
    retiring = next(k for k in folder.ring().keys if k.state == "retiring")
    assert [k.kid for k in folder.retire(LIFETIME, force=True)] == [retiring.kid]
    assert retiring.kid not in folder.ring().by_kid
    assert not (folder.folder / f"{retiring.kid}.pem").exists()


def test_retire_once_the_time_has_passed(folder: KeyFolder, clock: Clock) -> None:
    """retire() succeeds once lifetime + JWKS max-age + skew have passed since promote."""
    _rotated(folder, clock)
    clock.advance(LIFETIME + JWKS_MAX_AGE + CLOCK_SKEW - 1)
    with pytest.raises(RetireTooEarly):
        folder.retire(LIFETIME)
    clock.advance(2)
    assert len(folder.retire(LIFETIME)) == 1
    assert [k.state for k in folder.ring().keys] == ["active"]


def test_retired_key_tokens_are_rejected_even_when_cached(folder: KeyFolder, clock: Clock) -> None:
    """After retire and use_keyring, a cached token of the retired key is rejected."""
    old_token = _mint(folder)
    gate = make_gate(folder.ring(), "final")
    assert gate.resolve(old_token) is not UNKNOWN  # now cached
    _rotated(folder, clock)
    folder.retire(LIFETIME, force=True)
    gate.use_keyring(folder.ring())
    assert gate.resolve(old_token) is UNKNOWN


def test_use_keyring_keeps_cached_tokens_of_remaining_keys(folder: KeyFolder, clock: Clock) -> None:
    """use_keyring keeps the cached verification of a token whose key is still published."""
    token = _mint(folder)
    gate = make_gate(folder.ring(), "final")
    gate.resolve(token)
    folder.rotate()
    gate.use_keyring(folder.ring())
    gate.resolve(token)
    assert gate.verifier.verifications == 1  # type: ignore[attr-defined]


def test_rotate_refuses_a_second_staged_key(folder: KeyFolder) -> None:
    """rotate() refuses while a staged key waits for promote."""
    folder.rotate()
    with pytest.raises(KeyProblem, match="staged"):
        folder.rotate()


def test_promote_needs_a_staged_key(folder: KeyFolder) -> None:
    """promote() without a staged key is refused."""
    with pytest.raises(KeyProblem, match="staged"):
        folder.promote()


def test_runtime_accepts_a_newly_published_kid_after_recheck(
    folder: KeyFolder, clock: Clock
) -> None:
    """The runtime re-reads the key folder for an unknown kid once the recheck pause passed."""
    migration: Any = make_migration(key_folder=str(folder.folder), mode="final", clock=clock)
    staged = folder.rotate()
    assert staged.private_key is not None
    forge = Forge(folder.ring(), staged.private_key)
    token = forge.token(header=forge.header(kid=staged.kid), key=staged.private_key)
    assert migration.resolve(token) is None  # within the pause: the folder is not re-read
    clock.advance(KEY_RECHECK_SECONDS)
    assert migration.resolve(token).kid == staged.kid


def test_runtime_reload_drops_retired_key(folder: KeyFolder, clock: Clock) -> None:
    """OAuthMigration.reload_keys() after retire makes the retired key's tokens invalid."""
    migration: Any = make_migration(key_folder=str(folder.folder), mode="final", clock=clock)
    old_token = migration.mint_access_token("user-1", "client-1")
    assert migration.resolve(old_token) is not None
    _rotated(folder, clock)
    folder.retire(LIFETIME, force=True)
    clock.advance(KEY_RECHECK_SECONDS)
    assert migration.reload_keys() is True
    assert migration.resolve(old_token) is None


def test_finding_6_a_verification_in_flight_during_retirement_is_not_served_later(
    folder: KeyFolder, clock: Clock
) -> None:
    """A token of a key retired while its verification ran is refused on its next use."""
    old_token = _mint(folder)
    _rotated(folder, clock)
    gate = make_gate(folder.ring(), "final")
    folder.retire(LIFETIME, force=True)
    retired = folder.ring()
    verify = gate.verifier.verify_segments  # what the gate calls

    def verify_then_retire(token: str, segments: list[str]) -> Any:
        verified = verify(token, segments)
        gate.use_keyring(retired)  # what another thread's reload_keys does meanwhile
        return verified

    gate.verifier.verify_segments = verify_then_retire  # type: ignore[method-assign]
    gate.resolve(old_token)
    gate.verifier.verify_segments = verify  # type: ignore[method-assign]
    assert gate.resolve(old_token) is UNKNOWN
