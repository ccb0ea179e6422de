"""Crypto helpers: signing keys and access tokens (joserfc), passwords (argon2-cffi), secrets.

Nothing here implements a primitive: JOSE comes from joserfc, Argon2id from argon2-cffi and
randomness and digests from the standard library.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.to_thread
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey
from joserfc.jwk import KeySet as JwkSet
from signing_keys.document import KeyEntry, KeySet

ALGORITHM = "ES256"
# RFC 9068 access-token media type, checked on verification.
TOKEN_TYPE = "at+jwt"  # noqa: S105 (a type name, not a secret)
REFRESH_TOKEN_PREFIX = "rt_"  # noqa: S105 (a prefix, not a secret)
API_KEY_PREFIX = "ak_"
API_KEY_DISPLAY_CHARS = 10  # ak_ + 7 random characters, enough to tell keys apart in a list
CLOCK_LEEWAY_SECONDS = 30


class InvalidToken(Exception):
    """An access token failed verification; the message says why (safe to return)."""


class KeyConfigError(ValueError):
    """AUTH_SIGNING_KEYS does not hold usable keys."""


@dataclass(frozen=True)
class _View:
    valid_from: float
    valid_until: float
    signing_kid: str | None
    verification: JwkSet
    jwks: dict[str, Any]
    jwks_bytes: bytes


@dataclass(frozen=True)
class AccessToken:
    token: str
    expires_in: int
    claims: Mapping[str, Any]


class KeysUnavailable(RuntimeError):
    """No key may sign now (none loaded yet, or none active): answered with 503."""


class KeyRing:
    """Signing and verification keys, chosen by time from one key set.

    The signing key is the newest key whose activation time has passed and that is not retired;
    the JWKS and the verifier use every key that is not retired, also keys not active yet (so
    verifiers learn a key before it signs). From ``AUTH_SIGNING_KEYS`` (local runs, tests) every
    key is active at once and the first one signs.
    """

    def __init__(
        self,
        key_set: KeySet,
        *,
        issuer: str,
        audience: str,
        ttl_seconds: int = 900,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.ttl_seconds = ttl_seconds
        self.key_set = key_set
        self._clock = clock
        self._private = {k.kid: ECKey.import_key(dict(k.jwk)) for k in key_set.keys}
        self._public = {
            k.kid: ECKey.import_key(k.public_jwk())  # type: ignore[arg-type]
            for k in key_set.keys
        }
        self._view: _View | None = None

    def _current(self) -> _View:
        """What signs and what is published now; recomputed when an activation or retirement
        time passes (or the clock goes back), otherwise reused: the JWKS is served often."""
        now = self._clock()
        view = self._view
        if view is None or not view.valid_from <= now < view.valid_until:
            published = self.key_set.published(now)
            signing = self.key_set.signing_key(now)
            jwks = {
                "keys": [
                    {**self._public[k.kid].as_dict(private=False), "alg": ALGORITHM, "use": "sig"}
                    for k in published
                ]
            }
            next_change = self.key_set.next_change(now)
            view = _View(
                valid_from=now,
                valid_until=float("inf") if next_change is None else next_change,
                signing_kid=signing.kid if signing else None,
                verification=JwkSet([self._public[k.kid] for k in published]),  # type: ignore[arg-type]
                jwks=jwks,
                jwks_bytes=json.dumps(jwks, separators=(",", ":")).encode(),
            )
            self._view = view
        return view

    @property
    def current_kid(self) -> str | None:
        return self._current().signing_kid

    @property
    def jwks(self) -> dict[str, Any]:
        return self._current().jwks

    @property
    def jwks_bytes(self) -> bytes:
        return self._current().jwks_bytes

    @classmethod
    def from_jwks_json(
        cls,
        raw: str,
        *,
        issuer: str,
        audience: str,
        ttl_seconds: int = 900,
        clock: Callable[[], float] = time.time,
    ) -> KeyRing:
        """From ``AUTH_SIGNING_KEYS``: a JWK Set of private P-256 keys, the first one signs."""
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise KeyConfigError(f"not JSON ({exc.msg})") from None
        entries = data.get("keys") if isinstance(data, dict) else None
        if not isinstance(entries, list) or not entries:
            raise KeyConfigError('expected a JWK Set: {"keys": [<private EC P-256 JWK>, ...]}')
        keys: list[KeyEntry] = []
        seen: set[str] = set()
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict) or (entry.get("kty"), entry.get("crv")) != (
                "EC",
                "P-256",
            ):
                raise KeyConfigError(f"key #{index}: must be an EC P-256 JWK (kty EC, crv P-256)")
            if "d" not in entry:
                raise KeyConfigError(f"key #{index}: private part 'd' missing")
            if entry.get("alg", ALGORITHM) != ALGORITHM:
                raise KeyConfigError(f"key #{index}: alg must be {ALGORITHM}")
            try:
                key = ECKey.import_key(entry)
            except (JoseError, ValueError, TypeError) as exc:
                raise KeyConfigError(f"key #{index}: {exc}") from None
            kid = entry.get("kid") or key.thumbprint()
            if kid in seen:
                raise KeyConfigError(f"key #{index}: duplicate kid {kid!r}")
            seen.add(kid)
            jwk = {**entry, "kid": kid, "alg": ALGORITHM, "use": "sig"}
            # All active since the epoch: the earliest entry wins the tie, so the first signs.
            keys.append(KeyEntry(kid=kid, jwk=jwk, created_at=0, activates_at=0, retires_at=None))
        return cls(
            KeySet(tuple(keys)),
            issuer=issuer,
            audience=audience,
            ttl_seconds=ttl_seconds,
            clock=clock,
        )

    def issue(
        self, subject: str, scope: str, extra: Mapping[str, Any] | None = None
    ) -> AccessToken:
        kid = self._current().signing_kid
        if kid is None:
            raise KeysUnavailable("no signing key is active")
        now = int(self._clock())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "iat": now,
            "nbf": now,
            "exp": now + self.ttl_seconds,
            "jti": str(uuid.uuid4()),
            "scope": scope,
            **(extra or {}),
        }
        header = {"alg": ALGORITHM, "typ": TOKEN_TYPE, "kid": kid}
        token = jwt.encode(header, claims, self._private[kid], algorithms=[ALGORITHM])
        return AccessToken(token=token, expires_in=self.ttl_seconds, claims=claims)

    def verify(self, token: str) -> dict[str, Any]:
        """Claims of a valid access token, else InvalidToken.

        Only ES256 is accepted (so ``alg=none`` and HS256-with-the-public-key are refused before
        any key is used), the ``kid`` must name a published key, and iss/aud/exp/nbf/iat are
        checked with a small clock leeway.
        """
        try:
            decoded = jwt.decode(token, self._current().verification, algorithms=[ALGORITHM])
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise InvalidToken(f"invalid token: {type(exc).__name__}") from None
        if decoded.header.get("typ") != TOKEN_TYPE:
            raise InvalidToken("invalid token: not an access token")
        registry = jwt.JWTClaimsRegistry(
            now=lambda: int(self._clock()),
            leeway=CLOCK_LEEWAY_SECONDS,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.audience},
            sub={"essential": True},
            exp={"essential": True},
            nbf={"essential": True},
            iat={"essential": True},
            jti={"essential": True},
        )
        try:
            registry.validate(decoded.claims)
        except JoseError as exc:
            raise InvalidToken(f"invalid token: {exc.description or exc.error}") from None
        return dict(decoded.claims)


def generate_signing_key(kid: str | None = None) -> dict[str, Any]:
    """A new private P-256 JWK (for the key-generation command and tests)."""
    key = ECKey.generate_key("P-256", private=True)
    return {
        **key.as_dict(private=True),
        "kid": kid or key.thumbprint(),
        "alg": ALGORITHM,
        "use": "sig",
    }


class Passwords:
    """Argon2id hashing with a fixed-cost path for unknown users (no account enumeration).

    The async methods run Argon2 in worker threads (it releases the GIL) and at most
    ``max_concurrency`` at a time: each run holds ``memory_kib`` of RAM, so an unbounded burst
    of logins could exhaust a small task's memory.
    """

    def __init__(
        self, *, time_cost: int, memory_kib: int, parallelism: int, max_concurrency: int = 4
    ) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
        )
        # Verified against when the account does not exist, so both paths cost one Argon2 run.
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))
        self._max_concurrency = max_concurrency
        self._limiter: anyio.CapacityLimiter | None = None

    def _threads(self) -> anyio.CapacityLimiter:
        if self._limiter is None:  # created on first use, inside the running event loop
            self._limiter = anyio.CapacityLimiter(self._max_concurrency)
        return self._limiter

    async def hash_async(self, password: str) -> str:
        return await anyio.to_thread.run_sync(self.hash, password, limiter=self._threads())

    async def verify_async(self, stored_hash: str | None, password: str) -> tuple[bool, bool]:
        return await anyio.to_thread.run_sync(
            self.verify, stored_hash, password, limiter=self._threads()
        )

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> tuple[bool, bool]:
        """(matches, needs_rehash). ``stored_hash=None`` burns the same time and fails."""
        if stored_hash is None:
            with contextlib.suppress(VerificationError):
                self._hasher.verify(self._dummy_hash, password)
            return False, False
        try:
            self._hasher.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False, False
        return True, self._hasher.check_needs_rehash(stored_hash)


def new_refresh_token() -> str:
    return REFRESH_TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def secret_digest(value: str) -> bytes:
    """Storage form of a high-entropy secret (refresh token, API key): SHA-256.

    These secrets carry 256 random bits, so a fast digest is enough; a slow hash would only
    add latency (passwords, which are guessable, use Argon2id instead).
    """
    return hashlib.sha256(value.encode()).digest()


def throttle_pseudonym(email: str) -> str:
    """The account key of the login throttle: a stable pseudonym of the e-mail address, so the
    throttle table holds no plain addresses. Not a secret and not a lookup of the user."""
    return hashlib.sha256(email.encode()).hexdigest()
