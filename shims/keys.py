"""Signing keys: generation, RFC 7638 key ids, rotation states, the public JWKS.

A key folder holds one PKCS#8 PEM file per key (mode 0600) and a ``manifest.json`` that
gives each key its state:

- ``staged``: published in the JWKS, not signing yet (rotation step one: readers first);
- ``active``: the one key that signs;
- ``retiring``: no longer signs, still published so tokens it signed stay valid.

Several replicas must sign with the same key, so a deployment may instead give the active
key as PEM text in ``OAUTH_MIGRATE_SIGNING_KEY`` and, during a rotation, the other
published keys in ``OAUTH_MIGRATE_VERIFY_KEYS`` (a JWKS of public keys, as
``migrate keys jwks`` prints it) or ``OAUTH_MIGRATE_PUBLISHED_KEYS`` (PEM blocks, public or
private). A JWKS member carrying private parts is refused: that variable is public text.

Private key text never leaves this module: no ``repr``, log line or exception message
carries it, and :meth:`KeyRing.jwks` renders public members only.

A key folder, or a private key file in it, that group or others may read is a leak
waiting to happen. The ``migrate keys`` commands refuse it (``strict``), naming the exact
``chmod`` to run; a server still starts over it, so a deploy is not taken down by a mode
bit, but logs a warning naming the same ``chmod``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
import shlex
import stat
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from jwt.exceptions import InvalidKeyError

from .policy import JWKS_MAX_AGE

KeyState = Literal["staged", "active", "retiring"]

ENV_KEYS_DIR = "OAUTH_MIGRATE_KEYS_DIR"
ENV_SIGNING_KEY = "OAUTH_MIGRATE_SIGNING_KEY"
ENV_PUBLISHED_KEYS = "OAUTH_MIGRATE_PUBLISHED_KEYS"
ENV_VERIFY_KEYS = "OAUTH_MIGRATE_VERIFY_KEYS"
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
MANIFEST = "manifest.json"
MIN_BITS = 2048
PUBLIC_EXPONENT = 65537
MAX_BITS = 8192  # longer keys take minutes to generate and slow every verification
log = logging.getLogger("oauth_migration.keys")
_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z ]+)-----.+?-----END \1-----", re.DOTALL)


class KeyProblem(Exception):
    """A key folder or key text that cannot be used; the message never holds key material."""


class KeysUnavailable(KeyProblem):
    """No usable signing key: the server should answer 503, not 401."""


@dataclass(frozen=True)
class SigningKey:
    """One RSA key with its RFC 7638 ``kid`` and rotation state."""

    kid: str
    state: KeyState
    public_key: rsa.RSAPublicKey
    private_key: rsa.RSAPrivateKey | None = field(default=None, repr=False)
    created_at: float = 0.0
    state_since: float = 0.0

    def require_private(self) -> rsa.RSAPrivateKey:
        if self.private_key is None:
            raise KeysUnavailable(f"key {self.kid} has no private part here")
        return self.private_key

    @property
    def public_jwk(self) -> dict[str, str]:
        """The public JWK: ``kty, kid, use, alg, n, e`` and nothing private."""
        members = RSAAlgorithm.to_jwk(self.public_key, as_dict=True)
        return {
            "kty": "RSA",
            "kid": self.kid,
            "use": "sig",
            "alg": "RS256",
            "n": members["n"],
            "e": members["e"],
        }


def thumbprint(public_key: rsa.RSAPublicKey) -> str:
    """RFC 7638 §3: SHA-256 over the canonical ``{"e","kty","n"}`` JSON, base64url."""
    members = RSAAlgorithm.to_jwk(public_key, as_dict=True)
    canonical = json.dumps(
        {"e": members["e"], "kty": "RSA", "n": members["n"]}, separators=(",", ":"), sort_keys=True
    )
    digest = hashlib.sha256(canonical.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def generate_private_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    if bits < MIN_BITS:
        raise KeyProblem(f"RSA keys shorter than {MIN_BITS} bits are refused (asked for {bits})")
    if bits > MAX_BITS:
        raise KeyProblem(f"RSA keys longer than {MAX_BITS} bits are refused (asked for {bits})")
    return rsa.generate_private_key(public_exponent=PUBLIC_EXPONENT, key_size=bits)


def private_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_pem_keys(
    text: str, source: str
) -> list[tuple[rsa.RSAPublicKey, rsa.RSAPrivateKey | None]]:
    """Every RSA key in ``text`` (PEM blocks, private or public); ``source`` names it in errors."""
    blocks = [m.group(0) for m in _PEM_BLOCK.finditer(text)]
    if not blocks:
        raise KeyProblem(f"{source}: no PEM block found")
    if not all(block.isascii() for block in blocks):
        # Checked rather than encoded: a UnicodeEncodeError would carry the whole text.
        raise KeyProblem(f"{source}: PEM text holds characters that are not ASCII")
    return [_load_pem_block(block.encode("ascii"), source) for block in blocks]


def load_jwks(text: str, source: str) -> list[rsa.RSAPublicKey]:
    """The RSA public keys of a JWKS document (RFC 7517 §5); ``source`` names it in errors.

    Refused: anything but ``{"keys": [...]}``, a key that is not RSA for RS256 signatures,
    one with private members, a ``kid`` that is not its RFC 7638 thumbprint, a short key.
    No message quotes the text."""
    try:
        document = json.loads(text)
    except ValueError:
        raise KeyProblem(f'{source}: not JSON (a JWKS: {{"keys": [...]}})') from None
    members = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(members, list) or not members:
        raise KeyProblem(f"{source}: not a JWKS with at least one key")
    return [_load_jwk(member, f"{source} key {n}") for n, member in enumerate(members, 1)]


def _load_jwk(member: object, source: str) -> rsa.RSAPublicKey:
    if not isinstance(member, dict) or member.get("kty") != "RSA":
        raise KeyProblem(f"{source}: not an RSA JWK")
    if any(name in member for name in _PRIVATE_MEMBERS):
        raise KeyProblem(f"{source}: holds private key members; publish public keys only")
    if member.get("alg", "RS256") != "RS256" or member.get("use", "sig") != "sig":
        raise KeyProblem(f"{source}: not an RS256 signature key")
    try:
        public = RSAAlgorithm.from_jwk({"kty": "RSA", "n": member["n"], "e": member["e"]})
    except (KeyError, ValueError, TypeError, InvalidKeyError):
        raise KeyProblem(f"{source}: unreadable RSA JWK") from None
    if not isinstance(public, rsa.RSAPublicKey):
        raise KeyProblem(f"{source}: not an RSA public key")
    _check_strength(public, source)
    kid = member.get("kid")
    if kid is not None and kid != thumbprint(public):
        raise KeyProblem(f"{source}: its kid is not the key's RFC 7638 thumbprint")
    return public


def _load_pem_block(block: bytes, source: str) -> tuple[rsa.RSAPublicKey, rsa.RSAPrivateKey | None]:
    try:
        if b"PRIVATE KEY" in block:
            private = serialization.load_pem_private_key(block, password=None)
            if not isinstance(private, rsa.RSAPrivateKey):
                raise KeyProblem(f"{source}: not an RSA key")
            public = private.public_key()
        else:
            loaded = serialization.load_pem_public_key(block)
            if not isinstance(loaded, rsa.RSAPublicKey):
                raise KeyProblem(f"{source}: not an RSA key")
            public, private = loaded, None
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        # The library's message may quote the input: report only its class.
        raise KeyProblem(f"{source}: unreadable PEM key ({type(exc).__name__})") from None
    _check_strength(public, source)
    return public, private


def _check_strength(public: rsa.RSAPublicKey, source: str) -> None:
    """RSA of MIN_BITS or more with e = 65537: a short modulus can be factored, and a small
    exponent is what the e = 3 forgeries of lax PKCS#1 v1.5 checkers need."""
    if public.key_size < MIN_BITS:
        raise KeyProblem(f"{source}: RSA key of {public.key_size} bits, {MIN_BITS} at least")
    exponent = public.public_numbers().e
    if exponent != PUBLIC_EXPONENT:
        raise KeyProblem(f"{source}: RSA public exponent {exponent}, {PUBLIC_EXPONENT} required")


class KeyRing:
    """The published keys and the one that signs; read from a folder or the environment."""

    def __init__(self, keys: Iterable[SigningKey], *, folder: Path | None = None) -> None:
        self.keys: tuple[SigningKey, ...] = tuple(keys)
        self.folder = folder
        self.by_kid: dict[str, SigningKey] = {k.kid: k for k in self.keys}

    def __repr__(self) -> str:
        states = ", ".join(f"{k.kid}:{k.state}" for k in self.keys)
        return f"KeyRing({states})"

    @property
    def signing_key(self) -> SigningKey:
        for key in self.keys:
            if key.state == "active" and key.private_key is not None:
                return key
        raise KeysUnavailable("no active signing key with its private part")

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [k.public_jwk for k in self.keys]}

    # -- loading ---------------------------------------------------------------------

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, default_folder: str | Path | None = None
    ) -> KeyRing:
        """The signing key from ``OAUTH_MIGRATE_SIGNING_KEY``, else the key folder."""
        env = os.environ if environ is None else environ
        pem = env.get(ENV_SIGNING_KEY)
        if pem:
            ring = cls.from_pem(pem, env.get(ENV_PUBLISHED_KEYS, ""))
            verify = env.get(ENV_VERIFY_KEYS, "")
            return ring.with_public(load_jwks(verify, ENV_VERIFY_KEYS)) if verify.strip() else ring
        folder = env.get(ENV_KEYS_DIR) or default_folder
        if not folder:
            raise KeysUnavailable(f"neither {ENV_SIGNING_KEY} nor a key folder is set")
        return cls.from_folder(Path(folder))

    @classmethod
    def from_pem(cls, signing_pem: str, published_pem: str = "") -> KeyRing:
        loaded = load_pem_keys(signing_pem, ENV_SIGNING_KEY)
        if len(loaded) != 1 or loaded[0][1] is None:
            raise KeysUnavailable(f"{ENV_SIGNING_KEY} must hold exactly one private key")
        public, private = loaded[0]
        keys = [SigningKey(thumbprint(public), "active", public, private)]
        if published_pem.strip():
            for public, private in load_pem_keys(published_pem, ENV_PUBLISHED_KEYS):
                kid = thumbprint(public)
                if kid != keys[0].kid:
                    keys.append(SigningKey(kid, "retiring", public, private))
        return cls(keys)

    def with_public(self, published: Iterable[rsa.RSAPublicKey]) -> KeyRing:
        """This ring plus ``published`` keys it lacks, verifying only (state ``retiring``:
        the key a rotation staged, or the one it replaced)."""
        keys = list(self.keys)
        for public in published:
            kid = thumbprint(public)
            if kid not in self.by_kid and kid not in {k.kid for k in keys}:
                keys.append(SigningKey(kid, "retiring", public))
        return KeyRing(keys, folder=self.folder)

    @classmethod
    def from_folder(cls, folder: Path, *, strict: bool = False) -> KeyRing:
        """The keys a folder's manifest lists. A folder or private key file that group or
        others may read is refused with ``strict`` (the CLI), else logged as a warning
        naming the ``chmod`` to run (a server still starts)."""
        manifest = _read_manifest(folder)
        keys = cls._read_keys(folder, manifest)
        private = [folder / f"{k.kid}.pem" for k in keys if k.private_key is not None]
        fixes = loose_permissions(folder, private)
        if fixes and strict:
            raise LoosePermissions(folder, fixes)
        if fixes:
            log.warning(
                "private keys in %s are readable by group or others; run: %s",
                folder,
                " && ".join(fixes),
            )
        return cls(keys, folder=folder)

    @staticmethod
    def _read_keys(folder: Path, manifest: list[dict[str, Any]]) -> list[SigningKey]:
        keys = []
        for entry in manifest:
            path = folder / f"{entry['kid']}.pem"
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise KeysUnavailable(f"{path}: cannot read ({exc.strerror})") from None
            if not data.isascii():
                raise KeyProblem(f"{path}: not a PEM file (bytes that are not ASCII)")
            text = data.decode("ascii")
            (public, private), *_ = load_pem_keys(text, str(path))
            if thumbprint(public) != entry["kid"]:
                raise KeyProblem(f"{path}: the key's thumbprint is not its kid {entry['kid']}")
            keys.append(
                SigningKey(
                    entry["kid"],
                    entry["state"],
                    public,
                    private,
                    float(entry.get("created_at", 0)),
                    float(entry.get("state_since", 0)),
                )
            )
        return keys


class LoosePermissions(KeyProblem):
    """Private key material that group or others may read."""

    def __init__(self, folder: Path, fixes: list[str]) -> None:
        self.fixes = fixes
        super().__init__(
            f"{folder}: private keys readable by group or others; run: {' && '.join(fixes)}"
        )


def loose_permissions(folder: Path, private_files: Iterable[Path]) -> list[str]:
    """The ``chmod`` commands that make the folder and its private key files the owner's
    alone; empty when they are (or when a mode cannot be read: the load reports that)."""
    fixes = []
    for path, private_mode in ((folder, 0o700), *((f, 0o600) for f in private_files)):
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError:
            continue
        if mode & 0o077:
            fixes.append(f"chmod {private_mode:o} {shlex.quote(str(path))}")
    return fixes


def _read_manifest(folder: Path) -> list[dict[str, Any]]:
    path = folder / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KeysUnavailable(f"{path}: no key manifest (run `migrate keys generate`)") from None
    except (OSError, ValueError) as exc:
        raise KeyProblem(f"{path}: unreadable key manifest ({exc})") from None
    entries = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not all(_valid_entry(e) for e in entries):
        raise KeyProblem(f"{path}: malformed key manifest")
    return entries


def _valid_entry(entry: object) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("kid"), str)
        and re.fullmatch(r"[A-Za-z0-9_-]{43}", entry["kid"]) is not None
        and entry.get("state") in ("staged", "active", "retiring")
    )


# -- changing a key folder (the `migrate keys` commands) ---------------------------------


class KeyFolder:
    """Write access to a key folder: each change rewrites the manifest atomically.

    ``strict`` refuses a folder whose private keys group or others may read (the CLI).
    """

    def __init__(self, folder: Path, clock: Any = time.time, *, strict: bool = False) -> None:
        self.folder = folder
        self.clock = clock
        self.strict = strict

    def ring(self) -> KeyRing:
        return KeyRing.from_folder(self.folder, strict=self.strict)

    def exists(self) -> bool:
        return (self.folder / MANIFEST).exists()

    def generate(self, bits: int = 2048) -> SigningKey:
        """A first active key; refuses when the folder already has keys."""
        if self.exists():
            raise KeyProblem(f"{self.folder}: keys exist already (use `migrate keys rotate`)")
        return self._add(bits, "active", [])

    def rotate(self, bits: int = 2048) -> SigningKey:
        """Stage a new key: published now, signing only after `promote`."""
        keys = list(self.ring().keys)
        if any(k.state == "staged" for k in keys):
            raise KeyProblem("a staged key exists already: promote it first")
        return self._add(bits, "staged", keys)

    def promote(self) -> SigningKey:
        """The staged key signs; the active one is retiring (still published)."""
        keys = list(self.ring().keys)
        staged = [k for k in keys if k.state == "staged"]
        if not staged:
            raise KeyProblem("no staged key to promote (run `migrate keys rotate` first)")
        now = self.clock()
        changed = []
        for key in keys:
            if key.state == "active":
                key = replace(key, state="retiring", state_since=now)
            elif key.state == "staged":
                key = replace(key, state="active", state_since=now)
            changed.append(key)
        self._write_manifest(changed)
        return replace(staged[0], state="active", state_since=now)

    def retire(self, max_token_lifetime: float, *, force: bool = False) -> list[SigningKey]:
        """Drop retiring keys once no token they signed can be alive (unless ``force``)."""
        keys = list(self.ring().keys)
        retiring = [k for k in keys if k.state == "retiring"]
        if not force:
            blocked = [
                k for k in retiring if self.retire_after(k, max_token_lifetime) > self.clock()
            ]
            if blocked:
                raise RetireTooEarly(
                    blocked, [self.retire_after(k, max_token_lifetime) for k in blocked]
                )
        self._write_manifest([k for k in keys if k.state != "retiring"])
        for key in retiring:
            (self.folder / f"{key.kid}.pem").unlink(missing_ok=True)
        return retiring

    @staticmethod
    def retire_after(key: SigningKey, max_token_lifetime: float) -> float:
        return key.state_since + max_token_lifetime + JWKS_MAX_AGE + CLOCK_SKEW

    def _add(self, bits: int, state: KeyState, keys: list[SigningKey]) -> SigningKey:
        private = generate_private_key(bits)
        public = private.public_key()
        now = self.clock()
        new = SigningKey(thumbprint(public), state, public, private, now, now)
        self.folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)
        self._remove_orphans({k.kid for k in keys})
        # The key file first, then the manifest that makes it a key (one atomic rename): a
        # process killed between the two leaves only an orphan, removed by the next add.
        _write_private(self.folder / f"{new.kid}.pem", private_pem(private))
        self._write_manifest([*keys, new])
        return new

    def _remove_orphans(self, listed: set[str]) -> None:
        """Private key files no manifest names: left by an add that was killed halfway,
        never published, never used to sign."""
        for pem in self.folder.glob("*.pem"):
            if pem.stem not in listed and not pem.is_symlink():
                pem.unlink()

    def _write_manifest(self, keys: list[SigningKey]) -> None:
        entries = [
            {
                "kid": k.kid,
                "state": k.state,
                "created_at": k.created_at,
                "state_since": k.state_since,
            }
            for k in keys
        ]
        text = json.dumps({"version": 1, "keys": entries}, indent=2) + "\n"
        _atomic_write(self.folder / MANIFEST, text.encode("utf-8"), 0o644)


class RetireTooEarly(KeyProblem):
    """A retiring key may still have signed a live token."""

    def __init__(self, keys: list[SigningKey], not_before: list[float]) -> None:
        self.keys, self.not_before = keys, not_before
        when = ", ".join(
            f"{k.kid} not before {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(t))}"
            for k, t in zip(keys, not_before, strict=True)
        )
        super().__init__(f"tokens signed by retiring keys may still be alive: {when}")


# Seconds: how long relying parties may cache the JWKS, and the clock skew we allow.
CLOCK_SKEW = 60


def _write_private(path: Path, data: bytes) -> None:
    _atomic_write(path, data, 0o600)


def _atomic_write(path: Path, data: bytes, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
