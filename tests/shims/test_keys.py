"""Keys: the public JWKS, file modes, and no private key material in logs or errors."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import stat
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from shims.keys import (
    MANIFEST,
    KeyFolder,
    KeyProblem,
    KeyRing,
    KeysUnavailable,
    load_pem_keys,
    thumbprint,
)
from shims.minting import TokenMinter
from tests.support.inproc_server import serve_asgi, serve_wsgi

from .apps import flask_app, starlette_app
from .forge import ISSUER, RESOURCE
from .helpers import LegacyStore, make_gate, make_introspector, make_migration
from .secrets_check import leaked, pem_body_fragments, private_fragments

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
PUBLIC_MEMBERS = {"kty", "kid", "use", "alg", "n", "e"}


def _pkcs8(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


@pytest.fixture(scope="module")
def sample_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


# -- the JWKS ----------------------------------------------------------------------------


def test_ring_fixture_holds_every_state(ring: KeyRing) -> None:
    """The session ring has a staged, an active and a retiring key (what the JWKS tests need)."""
    assert sorted(k.state for k in ring.keys) == ["active", "retiring", "staged"]


def test_jwks_lists_public_members_only(ring: KeyRing) -> None:
    """Each JWKS entry has exactly kty, kid, use, alg, n, e: never d, p, q, dp, dq, qi, oth, k."""
    jwks = ring.jwks()
    assert len(jwks["keys"]) == 3
    for jwk in jwks["keys"]:
        assert set(jwk) == PUBLIC_MEMBERS
        assert PRIVATE_MEMBERS.isdisjoint(jwk)
        assert (jwk["kty"], jwk["use"], jwk["alg"], jwk["e"]) == ("RSA", "sig", "RS256", "AQAB")


def test_jwks_holds_no_private_material(ring: KeyRing) -> None:
    """The rendered JWKS text contains no fragment of any private key."""
    text = json.dumps(ring.jwks())
    for key in ring.keys:
        assert key.private_key is not None
        assert leaked(text, private_fragments(key.private_key)) == []


def test_kid_is_the_rfc7638_thumbprint(ring: KeyRing) -> None:
    """Each kid is SHA-256 over the canonical {"e","kty","n"} JSON, base64url, unpadded."""
    for jwk in ring.jwks()["keys"]:
        canonical = json.dumps(
            {"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}, separators=(",", ":"), sort_keys=True
        )
        digest = hashlib.sha256(canonical.encode()).digest()
        assert jwk["kid"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@pytest.fixture(scope="module", params=["starlette", "flask"])
def jwks_server(request: pytest.FixtureRequest, ring: KeyRing) -> Iterator[str]:
    migration = make_migration(ring, jwks_max_age=300)
    serve = serve_asgi(starlette_app(migration)) if request.param == "starlette" else None
    with serve or serve_wsgi(flask_app(migration)) as base_url:
        yield base_url


def test_served_jwks_is_public_and_cacheable(jwks_server: str, ring: KeyRing) -> None:
    """GET /.well-known/jwks.json answers the public JWKS with Cache-Control: public, max-age."""
    response = httpx.get(jwks_server + "/.well-known/jwks.json")
    assert response.status_code == 200
    assert re.fullmatch(r"public, max-age=\d+", response.headers["cache-control"])
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.json() == ring.jwks()
    for jwk in response.json()["keys"]:
        assert PRIVATE_MEMBERS.isdisjoint(jwk)


# -- files -------------------------------------------------------------------------------


def test_key_files_are_private(key_folder: Path) -> None:
    """Every private key file is mode 0600 after generate, rotate and promote."""
    pems = sorted(key_folder.glob("*.pem"))
    assert len(pems) == 3
    for pem in pems:
        assert stat.S_IMODE(pem.stat().st_mode) == 0o600


def test_key_folder_is_private(key_folder: Path) -> None:
    """The key folder itself is mode 0700."""
    assert stat.S_IMODE(key_folder.stat().st_mode) == 0o700


def test_manifest_holds_no_key_material(key_folder: Path, ring: KeyRing) -> None:
    """The manifest names kids and states only."""
    text = (key_folder / MANIFEST).read_text()
    for key in ring.keys:
        assert key.private_key is not None
        assert leaked(text, private_fragments(key.private_key)) == []


def test_repr_holds_no_key_material(ring: KeyRing) -> None:
    """repr() of the ring and of each key shows no private material."""
    text = repr(ring) + "".join(repr(k) for k in ring.keys)
    for key in ring.keys:
        assert key.private_key is not None
        assert leaked(text, private_fragments(key.private_key)) == []


def test_generate_refuses_short_keys(tmp_path: Path) -> None:
    """KeyFolder refuses to generate an RSA key under 2048 bits."""
    with pytest.raises(KeyProblem, match="2048"):
        KeyFolder(tmp_path / "keys").generate(bits=1024)


def test_generate_refuses_an_existing_folder(key_folder: Path) -> None:
    """generate() never overwrites a folder that already has keys."""
    with pytest.raises(KeyProblem, match="exist"):
        KeyFolder(key_folder).generate()


# -- broken key text: KeyProblem, and nothing secret in its text --------------------------


def _truncated(key: rsa.RSAPrivateKey) -> str:
    lines = _pkcs8(key).splitlines()
    return "\n".join([*lines[: len(lines) // 2], lines[-1]]) + "\n"


def _flipped(key: rsa.RSAPrivateKey) -> str:
    lines = _pkcs8(key).splitlines()
    lines[4] = lines[4][::-1]
    return "\n".join(lines) + "\n"


def _non_ascii(key: rsa.RSAPrivateKey) -> str:
    lines = _pkcs8(key).splitlines()
    lines[3] = lines[3][:20] + "é" + lines[3][21:]
    return "\n".join(lines) + "\n"


def _unknown_key_type(key: rsa.RSAPrivateKey) -> str:
    # An Ed25519 PKCS#8 key whose algorithm OID (1.3.101.112) is changed to one nobody knows.
    der = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    der = der.replace(bytes([6, 3, 0x2B, 0x65, 0x70]), bytes([6, 3, 0x2B, 0x65, 0x7F]))
    body = base64.encodebytes(der).decode("ascii")
    return f"-----BEGIN PRIVATE KEY-----\n{body}-----END PRIVATE KEY-----\n"


def _encrypted(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    ).decode("ascii")


def _relabelled(key: rsa.RSAPrivateKey) -> str:
    return _pkcs8(key).replace("PRIVATE KEY", "CERTIFICATE")


_SHORT_KEY = rsa.generate_private_key(public_exponent=65537, key_size=1024)
_EC_KEY = ec.generate_private_key(ec.SECP256R1())

BROKEN: dict[str, Callable[[rsa.RSAPrivateKey], str]] = {
    "truncated": _truncated,
    "flipped_line": _flipped,
    "non_ascii": _non_ascii,
    "unknown_key_type": _unknown_key_type,
    "encrypted": _encrypted,
    "relabelled_as_certificate": _relabelled,
    "rsa_1024_bits": lambda key: _pkcs8(_SHORT_KEY),
    "ec_key": lambda key: _pkcs8(_EC_KEY),
}


def _secrets_of(name: str, key: rsa.RSAPrivateKey, text: str) -> set[str]:
    own = {"rsa_1024_bits": _SHORT_KEY, "ec_key": _EC_KEY}.get(name, key)
    return private_fragments(own) | pem_body_fragments(text)


def _full_text(exc: BaseException) -> str:
    return str(exc) + repr(exc) + "".join(traceback.format_exception(exc))


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_pem_text_is_a_clean_key_problem(name: str, sample_key: rsa.RSAPrivateKey) -> None:
    """Unusable PEM text raises KeyProblem whose message and traceback hold no key material."""
    text = BROKEN[name](sample_key)
    with pytest.raises(KeyProblem) as caught:
        load_pem_keys(text, "OAUTH_MIGRATE_SIGNING_KEY")
    assert leaked(_full_text(caught.value), _secrets_of(name, sample_key, text)) == []


def _folder_with(tmp_path: Path, content: bytes) -> Path:
    kid = "A" * 43
    folder = tmp_path / "keys"
    folder.mkdir(parents=True)
    (folder / f"{kid}.pem").write_bytes(content)
    manifest = {"version": 1, "keys": [{"kid": kid, "state": "active"}]}
    (folder / MANIFEST).write_text(json.dumps(manifest))
    return folder


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_key_file_is_a_clean_key_problem(
    name: str, sample_key: rsa.RSAPrivateKey, tmp_path: Path
) -> None:
    """A key folder with an unusable PEM file raises KeyProblem without key material."""
    text = BROKEN[name](sample_key)
    folder = _folder_with(tmp_path, text.encode("utf-8"))
    with pytest.raises(KeyProblem) as caught:
        KeyRing.from_folder(folder)
    assert leaked(_full_text(caught.value), _secrets_of(name, sample_key, text)) == []


def test_binary_key_file_is_a_key_problem(tmp_path: Path, sample_key: rsa.RSAPrivateKey) -> None:
    """A key file holding bytes that are not ASCII raises KeyProblem, not UnicodeDecodeError."""
    pem = _pkcs8(sample_key)
    folder = _folder_with(tmp_path, b"\xff\xfe" + pem.encode("ascii"))
    with pytest.raises(KeyProblem) as caught:
        KeyRing.from_folder(folder)
    assert leaked(_full_text(caught.value), private_fragments(sample_key)) == []


def test_key_of_another_kid_is_a_key_problem(tmp_path: Path, sample_key: rsa.RSAPrivateKey) -> None:
    """A key file whose thumbprint is not the kid the manifest gives it is refused."""
    folder = _folder_with(tmp_path, _pkcs8(sample_key).encode("ascii"))
    with pytest.raises(KeyProblem, match="thumbprint") as caught:
        KeyRing.from_folder(folder)
    assert leaked(_full_text(caught.value), private_fragments(sample_key)) == []


@pytest.mark.parametrize("manifest", ["{", "[]", '{"keys": [{"kid": "../../etc/passwd"}]}'])
def test_malformed_manifest_is_a_key_problem(tmp_path: Path, manifest: str) -> None:
    """A manifest that is not JSON, not an object, or names a bad kid is refused."""
    folder = tmp_path / "keys"
    folder.mkdir()
    (folder / MANIFEST).write_text(manifest)
    with pytest.raises(KeyProblem):
        KeyRing.from_folder(folder)


def test_missing_folder_is_keys_unavailable(tmp_path: Path) -> None:
    """A key folder without a manifest raises KeysUnavailable (the 503 case)."""
    with pytest.raises(KeysUnavailable):
        KeyRing.from_folder(tmp_path / "nowhere")


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_env_key_is_a_clean_key_problem(name: str, sample_key: rsa.RSAPrivateKey) -> None:
    """A broken key in OAUTH_MIGRATE_SIGNING_KEY raises KeyProblem without key material."""
    text = BROKEN[name](sample_key)
    with pytest.raises(KeyProblem) as caught:
        KeyRing.from_env({"OAUTH_MIGRATE_SIGNING_KEY": text})
    assert leaked(_full_text(caught.value), _secrets_of(name, sample_key, text)) == []


def test_env_signing_key_loads(sample_key: rsa.RSAPrivateKey) -> None:
    """A PEM in OAUTH_MIGRATE_SIGNING_KEY becomes the active key, kid its thumbprint."""
    ring = KeyRing.from_env({"OAUTH_MIGRATE_SIGNING_KEY": _pkcs8(sample_key)})
    assert ring.signing_key.kid == thumbprint(sample_key.public_key())


# -- logs --------------------------------------------------------------------------------


def test_no_key_material_in_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, sample_key: rsa.RSAPrivateKey
) -> None:
    """Loading, rotating, minting, failed loads and introspection log no private key text."""
    caplog.set_level(logging.DEBUG)
    folder = KeyFolder(tmp_path / "keys")
    folder.generate()
    folder.rotate()
    folder.promote()
    ring = folder.ring()
    minter = TokenMinter(lambda: ring, issuer=ISSUER, default_audience=RESOURCE)
    token = minter.mint(subject="user-1", client_id="client-1").token

    fragments: set[str] = set()
    for key in ring.keys:
        assert key.private_key is not None
        fragments |= private_fragments(key.private_key)
    for name, broken in BROKEN.items():
        text = broken(sample_key)
        fragments |= _secrets_of(name, sample_key, text)
        broken_folder = _folder_with(tmp_path / name, text.encode("utf-8"))
        # The runtime logs why keys are unavailable: the message must stay clean.
        make_migration(key_folder=str(broken_folder))

    def failing_lookup(token: str) -> None:
        raise RuntimeError("legacy store down")

    gate = make_gate(ring, "hybrid", legacy_lookup=failing_lookup)
    introspector = make_introspector(gate)
    introspector.introspect(token)
    introspector.introspect("opaque-token")
    assert any(r.levelno >= logging.ERROR for r in caplog.records)
    assert leaked(caplog.text, fragments) == []
    assert leaked(str([r.__dict__ for r in caplog.records]), fragments) == []


def test_runtime_reports_broken_keys_as_unavailable(
    tmp_path: Path, sample_key: rsa.RSAPrivateKey
) -> None:
    """OAuthMigration over a key file that is not ASCII starts and reports keys unavailable."""
    folder = _folder_with(tmp_path, b"\xff" + _pkcs8(sample_key).encode("ascii"))
    migration = make_migration(key_folder=str(folder), store=LegacyStore())
    with pytest.raises(KeysUnavailable):
        migration.resolve("eyJhbGciOiJSUzI1NiJ9.e30.c2ln")


def test_opaque_tokens_pass_without_keys_in_the_hybrid_phase(
    tmp_path: Path, sample_key: rsa.RSAPrivateKey
) -> None:
    """A missing or broken key stops JWTs (503), not the legacy opaque tokens."""
    folder = _folder_with(tmp_path, b"\xff" + _pkcs8(sample_key).encode("ascii"))
    record = {"user_id": "ada", "client_id": "c"}
    migration = make_migration(key_folder=str(folder), store=LegacyStore({"opaque-1": record}))
    assert migration.resolve("opaque-1") == record


# -- key hygiene: loose permissions ------------------------------------------------------


def test_keys_a_server_over_a_loose_key_folder_warns_with_the_chmod_and_starts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The runtime over key files readable by others logs the chmods to run, and still signs."""
    folder = KeyFolder(tmp_path / "keys")
    folder.generate()
    pem = next(folder.folder.glob("*.pem"))
    pem.chmod(0o644)
    folder.folder.chmod(0o755)
    migration = make_migration(key_folder=str(folder.folder))
    assert migration.mint_access_token("user-1", "client-1")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(f"chmod 600 {pem}" in m and f"chmod 700 {folder.folder}" in m for m in warnings)


def test_keys_a_private_key_folder_loads_without_a_warning(
    key_folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A key folder of mode 0700 with files of mode 0600 loads without any warning."""
    KeyRing.from_folder(key_folder)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_key_generation_killed_before_its_manifest_leaves_no_orphan(tmp_path: Path) -> None:
    """Issue #8: `keys generate` killed after writing the private key file but before the
    manifest leaves an orphan; the next generate removes it, so one key file remains and
    the manifest names it."""
    import os

    import shims.keys

    folder = tmp_path / "keys"
    real_replace = os.replace

    def replace_then_die(source: str | Path, target: str | Path) -> None:
        real_replace(source, target)
        if str(target).endswith(".pem"):
            os._exit(137)

    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child dies inside generate()
        shims.keys.os.replace = replace_then_die  # type: ignore[attr-defined]
        KeyFolder(folder).generate()
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 137
    assert len(list(folder.glob("*.pem"))) == 1 and not (folder / "manifest.json").exists()
    key = KeyFolder(folder).generate()
    assert [p.name for p in folder.glob("*.pem")] == [f"{key.kid}.pem"]
