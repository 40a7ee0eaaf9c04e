"""The gate: one call that stands where a legacy server looked its bearer token up.

A legacy gate does ``record = <lookup>(token)`` and rejects when the lookup finds nothing.
The migration wraps that one expression::

    record = gate.resolve(token, legacy=lambda t: <lookup>(t))

- A JWT-shaped token is verified (RS256 pinned, RFC 9068 claims, our keys only). A bad one
  gives what the legacy lookup gives for an unknown token (``unknown``), so the legacy
  rejection path answers as it always did; it is never retried as an opaque token.
- In the ``hybrid`` mode, anything else goes to ``legacy(token)``, counted as opaque. A
  verified JWT is also looked up there when ``liveness`` is ``"legacy"``: the legacy mint
  code still stores every token it issues, so deleting it (refresh rotation, ``/revoke``)
  still revokes it, and the record returned is the one the legacy code wrote.
- In the ``final`` mode only JWTs pass; the record is built from the claims by
  ``to_record`` and revocation goes through the ``jti`` denylist.

``resolve`` is synchronous: a lookup that returns an awaitable (an async store) is refused
there, with an error in the log, and must go through ``resolve_async``; a coroutine taken
for a record would let every token in.

Verified tokens are cached (bounded, least recently used out first; never served past
``exp`` or once their key has left the key ring), so a client reusing its token costs a
dict lookup rather than an RSA verify.
"""

from __future__ import annotations

import inspect
import logging
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from types import AsyncGeneratorType, BuiltinFunctionType, FunctionType, GeneratorType
from typing import Any, Generic, Literal, Protocol, TypeVar

from .client_probe import PROBE_PREFIX
from .denylist import Denylist
from .keys import KeyRing
from .resources import out_of_request
from .verifier import JwtVerifier, TokenRejected, VerifiedToken, is_jwt_shaped

R = TypeVar("R")
Mode = Literal["hybrid", "final"]
Liveness = Literal["legacy", "denylist"]

DEFAULT_CACHE_SIZE = 10_000

log = logging.getLogger("oauth_migration.gate")


class ValidationCounter(Protocol):
    def validation(
        self,
        kind: Literal["jwt", "opaque"],
        outcome: Literal["accepted", "rejected"],
        reason: str,
        client_id: str | None = None,
    ) -> None: ...


class _NoMetrics:
    def validation(
        self,
        kind: Literal["jwt", "opaque"],
        outcome: Literal["accepted", "rejected"],
        reason: str,
        client_id: str | None = None,
    ) -> None:
        return None


class _Unset:
    pass


_UNSET: Any = _Unset()
_ASYNC: Any = _Unset()  # what _sync_lookup gives for a lookup that must be awaited

ASYNC_LOOKUP_ERROR = (
    "the legacy lookup is async: the synchronous gate refuses the token; call "
    "`await oauth_migration.resolve_async(...)` (or give a synchronous lookup)"
)


def field_of(record: Any, name: str) -> Any:
    """``record.name`` or ``record[name]``: legacy records are objects, dicts or rows."""
    if record is None:
        return None
    value = getattr(record, name, _UNSET)
    if value is not _UNSET:
        return value
    try:
        return record[name]
    except (KeyError, IndexError, TypeError):
        return None


CLIENT_FIELDS = ("client_id", "client", "cid", "clientid", "app_id")


def client_id_of(record: Any) -> str | None:
    """The client a legacy record names, under the usual field names (for metrics)."""
    for name in CLIENT_FIELDS:
        value = field_of(record, name)
        if isinstance(value, str) and value:
            return value
    return None


def _rejection(unknown: Any) -> Any:
    # Legacy lookups that raise for an unknown token (``TOKENS[token]``) get the same raise.
    if isinstance(unknown, BaseException) or (
        isinstance(unknown, type) and issubclass(unknown, BaseException)
    ):
        raise unknown
    return unknown


class TokenGate(Generic[R]):
    """Validates bearer tokens for a server in the ``hybrid`` or ``final`` phase."""

    def __init__(
        self,
        verifier: JwtVerifier,
        *,
        mode: Mode = "hybrid",
        to_record: Callable[[VerifiedToken], R] | None = None,
        legacy_lookup: Callable[[str], Any] | None = None,
        unknown: Any = None,
        liveness: Liveness = "legacy",
        denylist: Denylist | None = None,
        metrics: ValidationCounter | None = None,
        legacy_client_id: Callable[[Any], str | None] | None = None,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        if mode not in ("hybrid", "final"):
            raise ValueError(f"unknown gate mode {mode!r}")
        self.verifier = verifier
        self.mode: Mode = mode
        self.to_record = to_record
        self.legacy_lookup = legacy_lookup
        self.unknown = unknown
        self.liveness: Liveness = liveness if mode == "hybrid" else "denylist"
        self.denylist = denylist if denylist is not None else Denylist(clock=verifier.clock)
        self.metrics: ValidationCounter = metrics if metrics is not None else _NoMetrics()
        self.legacy_client_id = legacy_client_id or client_id_of
        self.cache_size = cache_size
        # Least recently used first: eviction pops the front in O(1) (finding 12).
        self._cache: OrderedDict[str, VerifiedToken] = OrderedDict()
        self._records: dict[str, R] = {}
        # Threaded servers (waitress, gunicorn threads) share one gate: key changes iterate
        # the cache, so every read and change of it happens under this lock.
        self._cache_lock = threading.Lock()

    # -- the three calls a legacy gate needs ----------------------------------------------

    def resolve(
        self,
        token: str,
        legacy: Callable[[str], Any] | None = None,
        *,
        unknown: Any = _UNSET,
        record: Callable[[VerifiedToken], Any] | None = None,
    ) -> Any:
        """The record for ``token``, or the legacy ``unknown`` answer.

        ``legacy`` is the legacy lookup as a function of the token. The first one given is
        kept (when none was configured) so introspection can look opaque tokens up too.
        ``record`` builds the legacy record from a verified JWT (the final phase).
        """
        unknown = self.unknown if unknown is _UNSET else unknown
        if self.legacy_lookup is None and legacy is not None:
            # kept so introspection can look opaque tokens up (outside this request)
            self.legacy_lookup = out_of_request(legacy)
        verified = self._cached(token)
        if verified is None:
            try:
                verified = self._classify(token)
            except TokenRejected as rejected:
                return self._reject("jwt", rejected.reason, unknown)
        if verified is None:
            if self.mode == "final":
                return self._reject("opaque", "opaque_refused", unknown)
            found = self._sync_lookup(legacy, token)
            if found is _ASYNC:
                return self._reject("opaque", "async_lookup", unknown)
            return self._accept_opaque(token, found, unknown)
        if self.liveness == "legacy":
            found = self._sync_lookup(legacy, token)
            if found is _ASYNC:
                return self._reject("jwt", "async_lookup", unknown)
            return self._accept_live(verified, found, unknown)
        return self._accept_jwt(verified, record)

    async def resolve_async(
        self,
        token: str,
        legacy: Callable[[str], Awaitable[Any] | Any] | None = None,
        *,
        unknown: Any = _UNSET,
        record: Callable[[VerifiedToken], Any] | None = None,
    ) -> Any:
        """As :meth:`resolve`, for a legacy lookup that must be awaited."""
        unknown = self.unknown if unknown is _UNSET else unknown
        if self.legacy_lookup is None and legacy is not None:
            # kept so introspection can look opaque tokens up (outside this request)
            self.legacy_lookup = out_of_request(legacy)
        verified = self._cached(token)
        if verified is None:
            try:
                verified = self._classify(token)
            except TokenRejected as rejected:
                return self._reject("jwt", rejected.reason, unknown)
        if verified is None:
            if self.mode == "final":
                return self._reject("opaque", "opaque_refused", unknown)
            record = refuse_generator(await _maybe_await(self._lookup(legacy)(token)))
            return self._accept_opaque(token, record, unknown)
        if self.liveness == "legacy":
            record = refuse_generator(await _maybe_await(self._lookup(legacy)(token)))
            return self._accept_live(verified, record, unknown)
        return self._accept_jwt(verified, record)

    def verify_jwt(self, token: str) -> VerifiedToken:
        """Verify a JWT fully (cache, denylist) without counting it; raises TokenRejected."""
        verified = self._cached(token)
        if verified is not None:
            return verified
        verified = self._classify(token)
        if verified is None:
            raise TokenRejected("not_jwt")
        return verified

    def revoke(self, token: str) -> bool:
        """Put a JWT's ``jti`` on the denylist until its ``exp``; False for other tokens."""
        if not isinstance(token, str):
            return False  # a legacy delete path keyed by something else: nothing to revoke
        try:
            verified = self.verify_jwt(token)
        except TokenRejected:
            return False
        # Listed until exp + leeway: the verifier accepts the token until then, so an
        # entry dropped at exp would let a revoked token back in for the leeway.
        self.denylist.add(verified.jti, verified.exp + self.verifier.leeway)
        self._forget(token)
        return True

    # -- key changes ---------------------------------------------------------------------

    def use_keyring(self, ring: KeyRing) -> None:
        """Swap keys; cached tokens signed by a key that left the ring are dropped."""
        self.verifier.keyring = ring
        with self._cache_lock:
            for token, verified in list(self._cache.items()):
                if verified.kid not in ring.by_kid:
                    self._drop(token)

    # -- internals -----------------------------------------------------------------------

    def _cached(self, token: str) -> VerifiedToken | None:
        if not isinstance(token, str):
            return None  # never cached (and maybe unhashable)
        with self._cache_lock:
            verified = self._cache.get(token)
            if verified is None:
                return None
            # The kid is checked on every hit, not only when use_keyring prunes: a
            # verification in flight across a retirement may insert after the prune.
            expired = verified.exp <= self.verifier.clock() - self.verifier.leeway
            if expired or verified.kid not in self.verifier.keyring.by_kid:
                self._drop(token)
                return None
            self._cache.move_to_end(token)
        if verified.jti in self.denylist:
            return None
        return verified

    def _classify(self, token: str) -> VerifiedToken | None:
        """None for a token that is not JWT-shaped; raises TokenRejected for a bad JWT.

        A token that is not a string (None, bytes, the extractor's credentials object) is
        not a JWT: the legacy lookup gets it unchanged and its answer stands."""
        if not isinstance(token, str):
            return None
        if len(token) > self.verifier.max_length:
            raise TokenRejected("too_long")
        segments = token.split(".")
        if not is_jwt_shaped(segments, self.verifier.known_headers):
            return None
        verified = self.verifier.verify_segments(token, segments)
        if verified.jti in self.denylist:
            raise TokenRejected("revoked")
        self._remember(token, verified)
        return verified

    def _remember(self, token: str, verified: VerifiedToken) -> None:
        with self._cache_lock:
            if verified.kid not in self.verifier.keyring.by_kid:
                return  # its key left the ring while it was being verified (finding 6)
            self._cache[token] = verified
            self._cache.move_to_end(token)
            self._drop_expired_oldest()
            while len(self._cache) > self.cache_size:
                self._drop(next(iter(self._cache)))

    def _drop_expired_oldest(self) -> None:
        """Drop the least recently used entries while they have expired, two at most per
        insert: a token is not presented after its exp (a hit would drop it), so expired
        entries drift to the front. The cache is bounded by ``cache_size`` in any case;
        this gives their memory back sooner, and no insert scans the whole cache (one
        sweep every ``cache_size`` inserts held the lock 448 ms at a million entries).
        Called with ``_cache_lock`` held."""
        now = self.verifier.clock() - self.verifier.leeway
        for _ in range(2):
            # None once empty: the token just inserted may itself have expired meanwhile.
            oldest = next(iter(self._cache), None)
            if oldest is None or self._cache[oldest].exp > now:
                return
            self._drop(oldest)

    def _forget(self, token: str) -> None:
        with self._cache_lock:
            self._drop(token)

    def _drop(self, token: str) -> None:
        self._cache.pop(token, None)
        self._records.pop(token, None)

    def _lookup(self, legacy: Callable[[str], Any] | None) -> Callable[[str], Any]:
        if legacy is not None:
            if self.legacy_lookup is None:
                self.legacy_lookup = out_of_request(legacy)
            return legacy
        if self.legacy_lookup is None:
            raise RuntimeError("the gate has no legacy lookup for opaque tokens")
        return self.legacy_lookup

    def _sync_lookup(self, legacy: Callable[[str], Any] | None, token: str) -> Any:
        """The legacy record, or ``_ASYNC`` when the lookup must be awaited: a coroutine is
        not a record, and taking it for one would let any token in (it is never None)."""
        lookup = self._lookup(legacy)
        if _async_function(lookup):
            log.error(ASYNC_LOOKUP_ERROR)
            return _ASYNC
        found = lookup(token)
        if type(found) in _PLAIN_RECORDS:
            return found
        if inspect.isawaitable(found):
            close = getattr(found, "close", None)
            if callable(close):
                close()  # never awaited: closed so it neither runs nor warns
            log.error(ASYNC_LOOKUP_ERROR)
            return _ASYNC
        return refuse_generator(found)

    def _reject(self, kind: Literal["jwt", "opaque"], reason: str, unknown: Any) -> Any:
        self.metrics.validation(kind, "rejected", reason)
        return _rejection(unknown)

    def _accept_opaque(self, token: str, record: Any, unknown: Any) -> Any:
        if record is None or record is unknown:
            probe = isinstance(token, str) and token.startswith(PROBE_PREFIX)
            if not probe:  # the runtime's own probes are not traffic
                self.metrics.validation("opaque", "rejected", "unknown")
            return record
        self.metrics.validation("opaque", "accepted", "ok", self.legacy_client_id(record))
        return record

    def _accept_live(self, verified: VerifiedToken, record: Any, unknown: Any) -> Any:
        if record is None or record is unknown:
            self.metrics.validation("jwt", "rejected", "revoked", verified.client_id)
            return record
        self.metrics.validation("jwt", "accepted", "ok", verified.client_id)
        return record

    def _accept_jwt(
        self, verified: VerifiedToken, build: Callable[[VerifiedToken], Any] | None = None
    ) -> Any:
        self.metrics.validation("jwt", "accepted", "ok", verified.client_id)
        build = build or self.to_record
        if build is None:
            return verified
        record = self._records.get(verified.token)
        if record is None:
            record = build(verified)
            with self._cache_lock:
                # Kept only beside its cache entry, so eviction drops it too.
                if verified.token in self._cache:
                    self._records[verified.token] = record
        return record


# What a lookup gives that cannot be awaited, told by one set test: inspect.isawaitable
# asks the Awaitable ABC, about 300 ns on every request (issue 13).
_PLAIN_RECORDS = frozenset({type(None), dict, tuple, list, str, bool, int, sqlite3.Row})


def _async_function(lookup: Callable[..., Any]) -> bool:
    """inspect.iscoroutinefunction, with one flag test for the usual plain function (a
    lambda): the general test unwraps methods and partials first, about 400 ns. A function
    only marked as a coroutine function (3.12's markcoroutinefunction) is called, and the
    awaitable it gives is refused and closed after the call, as any other."""
    kind = type(lookup)
    if kind is FunctionType:
        return bool(lookup.__code__.co_flags & inspect.CO_COROUTINE)
    if kind is BuiltinFunctionType:  # dict.get of a store, say: never a coroutine function
        return False
    return inspect.iscoroutinefunction(lookup)


GENERATOR_LOOKUP_ERROR = (
    "the legacy lookup gave a generator, not a record: the gate refuses the token"
)


def refuse_generator(found: Any) -> Any:
    """``found``, or None for a generator (sync or async) a lookup written with ``yield``
    gives: never None, so taken for a record it would let every token in."""
    if isinstance(found, GeneratorType | AsyncGeneratorType):
        log.error(GENERATOR_LOOKUP_ERROR)
        return None
    return found


async def _maybe_await(value: Awaitable[Any] | Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value
