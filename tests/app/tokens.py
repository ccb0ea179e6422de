"""Access tokens made the way the token contract (and the auth service) makes them.

ES256 on a P-256 key from a JWK set, header `{"alg": "ES256", "typ": "at+jwt", "kid": ...}`,
claims iss/aud/sub/exp/iat/nbf/jti/scope; API-key tokens add `token_use` and `akid`. Each knob
exists to forge one kind of bad token.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import ECKey

ISSUER = "https://auth.test.example"
AUDIENCE = "platform-api"
JWKS_URL = "https://auth.test.example/.well-known/jwks.json"
USER_SCOPES = "checkins:read checkins:write devices:read devices:write"


def new_signing_key(kid: str) -> ECKey:
    return ECKey.generate_key("P-256", {"kid": kid, "alg": "ES256", "use": "sig"}, private=True)


def public_jwk(key: ECKey) -> dict[str, Any]:
    return {**key.as_dict(private=False), "alg": "ES256", "use": "sig"}


def mint(
    key: ECKey,
    *,
    sub: str | None = None,
    scope: str = USER_SCOPES,
    lifetime: int = 900,
    issued_at: int | None = None,
    header: dict[str, Any] | None = None,
    claims: dict[str, Any] | None = None,
    drop: tuple[str, ...] = (),
) -> str:
    now = int(time.time()) if issued_at is None else issued_at
    body: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": sub or str(uuid.uuid4()),
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "jti": str(uuid.uuid4()),
        "scope": scope,
        **(claims or {}),
    }
    for name in drop:
        body.pop(name, None)
    hdr = {"alg": "ES256", "typ": "at+jwt", "kid": key.kid, **(header or {})}
    return jwt.encode(hdr, body, key, algorithms=["ES256"])


class FakeAuthJwks:
    """The auth service's JWKS endpoint, in process (an httpx MockTransport).

    `keys` is what it publishes; `down = True` makes it answer 503; `calls` counts fetches.
    """

    def __init__(self, *keys: ECKey) -> None:
        self.keys: list[ECKey] = list(keys)
        self.down = False
        self.calls = 0

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        assert str(request.url) == JWKS_URL
        if self.down:
            return httpx.Response(503, json={"detail": "down"})
        return httpx.Response(
            200,
            json={"keys": [public_jwk(k) for k in self.keys]},
            headers={"Cache-Control": "public, max-age=300"},
        )

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self._handle))

    def fetcher(self):
        from checkins_app.core.security import http_jwks_fetcher

        return http_jwks_fetcher(self.client(), JWKS_URL)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
