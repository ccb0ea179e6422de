"""Local verification of the auth service's access tokens against its cached JWKS.

The token contract: ES256 JWTs with header `typ: at+jwt` and a `kid`, claims `iss`, `aud`,
`sub`, `exp`, `iat`, `nbf`, `jti`, `scope`; API-key tokens add `token_use: "api_key"` and `akid`.
No call to the auth service per request: keys come from a JWKS cache that refreshes on a TTL,
refetches at most once per interval for an unknown `kid`, and keeps serving the last good keys
while the auth service is briefly unreachable.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import (
    ExpiredTokenError,
    InvalidClaimError,
    InvalidTokenError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import ECKey

log = logging.getLogger(__name__)

ALGORITHM = "ES256"
# RFC 9068: access tokens carry this media type, which keeps ID or refresh tokens that happen
# to be signed by the same key from being accepted here.
ACCEPTED_TYPES = frozenset({"at+jwt", "application/at+jwt"})
MAX_TOKEN_BYTES = 8 * 1024
MAX_JWKS_BYTES = 64 * 1024
API_KEY_TOKEN_USE = "api_key"  # noqa: S105 - a claim value, not a secret


class InvalidToken(Exception):
    """The bearer token is missing, malformed, forged or expired (HTTP 401)."""


class KeysUnavailable(Exception):
    """No usable signing keys: the JWKS was never fetched or is stale beyond the limit (503)."""


@dataclass(frozen=True)
class Principal:
    """Who is calling, as stated by a verified access token."""

    subject: str
    scopes: frozenset[str]
    # Set for tokens minted from a third-party API key (`token_use: api_key`).
    api_key_id: str | None = None

    @property
    def via_api_key(self) -> bool:
        return self.api_key_id is not None


JwksFetcher = Callable[[], Awaitable[dict[str, Any]]]


def http_jwks_fetcher(client: httpx.AsyncClient, url: str) -> JwksFetcher:
    """Fetch the JWKS document with `client` (its timeout and transport apply)."""

    async def fetch() -> dict[str, Any]:
        response = await client.get(url, headers={"Accept": "application/json"})
        response.raise_for_status()
        if len(response.content) > MAX_JWKS_BYTES:
            raise ValueError(f"JWKS document larger than {MAX_JWKS_BYTES} bytes")
        document = response.json()
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise ValueError("JWKS document has no `keys` list")
        return document

    return fetch


def _import_signing_keys(document: dict[str, Any]) -> dict[str, ECKey]:
    """The usable ES256 verification keys by kid; anything else in the set is ignored."""
    keys: dict[str, ECKey] = {}
    for entry in document["keys"]:
        if not isinstance(entry, dict):
            continue
        kid = entry.get("kid")
        if (
            not isinstance(kid, str)
            or entry.get("kty") != "EC"
            or entry.get("crv") != "P-256"
            or entry.get("alg", ALGORITHM) != ALGORITHM
            or entry.get("use", "sig") != "sig"
            or "d" in entry  # a private key has no business in a public JWKS
        ):
            continue
        try:
            keys[kid] = ECKey.import_key(entry)
        except (JoseError, ValueError, TypeError) as error:
            log.warning("ignoring malformed JWK", extra={"kid": kid, "error": str(error)})
    return keys


class JwksCache:
    """Signing keys by kid, refreshed lazily from `fetch`.

    - fresh for `ttl` seconds after a successful fetch;
    - a failed refresh keeps the previous keys ("serve stale") until `ttl + max_stale` after the
      last success, and is retried no sooner than `min_refetch` later;
    - an unknown kid triggers a refetch only if the last attempt is at least `min_refetch` old.
    """

    def __init__(
        self,
        fetch: JwksFetcher,
        *,
        ttl: float,
        min_refetch: float,
        max_stale: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._ttl = ttl
        self._min_refetch = min_refetch
        self._max_stale = max_stale
        self._clock = clock
        self._keys: dict[str, ECKey] = {}
        self._fetched_at: float | None = None
        self._last_attempt: float | None = None
        self._next_refresh = 0.0
        self._lock = asyncio.Lock()
        # Bumped whenever the set of keys changes, which voids earlier verifications.
        self.version = 0

    def _usable(self, now: float) -> bool:
        if self._fetched_at is None:
            return False
        return now - self._fetched_at <= self._ttl + self._max_stale

    async def _refresh(self, started: float) -> None:
        async with self._lock:
            # Another request refreshed while this one waited for the lock: use its result.
            if self._last_attempt is not None and self._last_attempt >= started:
                return
            now = self._clock()
            self._last_attempt = now
            try:
                keys = _import_signing_keys(await self._fetch())
            except Exception as error:  # any failure of the auth service means "keep stale"
                self._next_refresh = now + self._min_refetch
                log.warning(
                    "JWKS fetch failed" + ("; serving cached keys" if self._keys else ""),
                    extra={"error": repr(error), "cached_keys": len(self._keys)},
                )
                return
            if _fingerprint(keys) != _fingerprint(self._keys):
                self.version += 1
            self._keys = keys
            self._fetched_at = now
            self._next_refresh = now + self._ttl
            log.info("JWKS refreshed", extra={"kids": sorted(keys)})

    async def warm(self) -> None:
        """Fetch the keys now (at startup) so the first request does not wait for them."""
        await self._refresh(self._clock())

    async def current_version(self) -> int:
        """The key-set version after any due refresh; KeysUnavailable if the keys are too stale."""
        now = self._clock()
        if now >= self._next_refresh:
            await self._refresh(now)
        if not self._usable(self._clock()):
            raise KeysUnavailable("the auth service's signing keys are not available")
        return self.version

    async def key_for(self, kid: str) -> ECKey | None:
        now = self._clock()
        if now >= self._next_refresh:
            await self._refresh(now)
        key = self._keys.get(kid)
        if key is None and (
            self._last_attempt is None or now - self._last_attempt >= self._min_refetch
        ):
            await self._refresh(now)
            key = self._keys.get(kid)
        if not self._usable(self._clock()):
            raise KeysUnavailable("the auth service's signing keys are not available")
        return key


def _fingerprint(keys: dict[str, ECKey]) -> frozenset[tuple[str, str]]:
    return frozenset((kid, key.thumbprint()) for kid, key in keys.items())


def _claims_registry(
    issuer: str, audience: str, leeway: int, clock: Callable[[], float]
) -> jwt.JWTClaimsRegistry:
    return jwt.JWTClaimsRegistry(
        now=lambda: int(clock()),  # the verifier's clock, so exp and its cache agree
        leeway=leeway,
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": audience},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
    )


class TokenVerifier:
    """Turns a bearer token into a `Principal`, or raises `InvalidToken`/`KeysUnavailable`."""

    def __init__(
        self,
        keys: JwksCache,
        *,
        issuer: str,
        audience: str,
        leeway: int = 30,
        cache_size: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keys = keys
        self._registry = _claims_registry(issuer, audience, leeway, clock)
        self._leeway = leeway
        self._clock = clock
        # Tokens already verified, by SHA-256 of the token (the bearer secret itself is not
        # kept): a client reuses its token for many requests during its lifetime, and the
        # signature check is the most expensive step of a request. An entry is used only while
        # the token is unexpired and the key set is the one that verified it.
        self._verified: OrderedDict[bytes, tuple[Principal, float, int]] = OrderedDict()
        self._cache_size = cache_size

    async def verify(self, token: str) -> Principal:
        raw = token.encode("ascii", "replace")
        if len(raw) > MAX_TOKEN_BYTES:
            raise InvalidToken("token too large")
        digest = hashlib.sha256(raw).digest()
        cached = self._verified.get(digest)
        if cached is not None:
            principal, expires, version = cached
            if version == await self.keys.current_version():
                if self._clock() - self._leeway < expires:
                    return principal
                del self._verified[digest]
                raise InvalidToken("token expired")
            del self._verified[digest]
        principal, expires = await self._verify(raw)
        self._verified[digest] = (principal, expires, self.keys.version)
        if len(self._verified) > self._cache_size:
            self._verified.popitem(last=False)
        return principal

    async def _verify(self, raw: bytes) -> tuple[Principal, float]:
        header = _peek_header(raw)
        # The algorithm is fixed by the contract, never taken from the token: this rejects
        # `alg: none` and HS256-with-the-public-key (algorithm confusion) before any key lookup.
        if header.get("alg") != ALGORITHM:
            raise InvalidToken(f"unsupported token algorithm; expected {ALGORITHM}")
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() not in ACCEPTED_TYPES:
            raise InvalidToken("not an access token (typ must be at+jwt)")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("token has no key id")
        key = await self.keys.key_for(kid)
        if key is None:
            raise InvalidToken("token signed by an unknown key")
        try:
            claims = jwt.decode(raw, key, algorithms=[ALGORITHM]).claims
        except (JoseError, ValueError, TypeError) as error:
            raise InvalidToken("bad token signature or payload") from error
        try:
            self._registry.validate(claims)
        except ExpiredTokenError as error:
            raise InvalidToken("token expired") from error
        except MissingClaimError as error:
            raise InvalidToken(f"token lacks a required claim: {error.description}") from error
        except (InvalidClaimError, InvalidTokenError) as error:
            raise InvalidToken(f"token rejected: {error.description}") from error
        except JoseError as error:
            raise InvalidToken("token rejected") from error
        return _principal(claims), float(claims["exp"])


def _peek_header(raw: bytes) -> dict[str, Any]:
    """The protected header, read before any key is chosen (joserfc parses it again when it
    verifies the signature; this only picks the key and refuses wrong algorithms early)."""
    if raw.count(b".") != 2:
        raise InvalidToken("malformed token")
    segment = raw.partition(b".")[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4)))
    except (ValueError, binascii.Error) as error:
        raise InvalidToken("malformed token") from error
    if not isinstance(header, dict):
        raise InvalidToken("malformed token")
    return header


def _principal(claims: dict[str, Any]) -> Principal:
    subject = claims["sub"]
    if not isinstance(subject, str) or not 0 < len(subject) <= 255:
        raise InvalidToken("token subject must be a non-empty string")
    scope = claims.get("scope", "")
    if not isinstance(scope, str):
        raise InvalidToken("token scope must be a space-separated string")
    token_use = claims.get("token_use")
    api_key_id = None
    if token_use == API_KEY_TOKEN_USE:
        api_key_id = claims.get("akid")
        if not isinstance(api_key_id, str) or not api_key_id:
            raise InvalidToken("API-key token lacks `akid`")
    elif token_use is not None:
        # Only user access tokens (no token_use) and API-key tokens are defined by the contract.
        raise InvalidToken("unsupported token_use")
    return Principal(subject=subject, scopes=frozenset(scope.split()), api_key_id=api_key_id)
