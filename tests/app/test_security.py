"""Token verification and the JWKS cache, without HTTP or Cassandra in the way.

Keys and tokens are made as the token contract says (ES256 P-256 JWK set, `typ: at+jwt`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time

import pytest
from checkins_app.core.security import (
    InvalidToken,
    JwksCache,
    KeysUnavailable,
    TokenVerifier,
)

from tests.app.tokens import AUDIENCE, ISSUER, FakeAuthJwks, mint, new_signing_key, public_jwk


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def key():
    return new_signing_key("k-current")


@pytest.fixture
def auth(key) -> FakeAuthJwks:
    return FakeAuthJwks(key)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_verifier(auth: FakeAuthJwks, clock: Clock, **cache_options: float) -> TokenVerifier:
    options = {"ttl": 300.0, "min_refetch": 30.0, "max_stale": 3600.0, **cache_options}
    cache = JwksCache(auth.fetcher(), clock=clock, **options)
    return TokenVerifier(cache, issuer=ISSUER, audience=AUDIENCE, leeway=30)


def verify(verifier: TokenVerifier, token: str):
    return asyncio.run(verifier.verify(token))


def rejected(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(InvalidToken) as info:
        verify(verifier, token)
    return str(info.value)


def _b64(data: dict | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_valid_user_token_gives_subject_and_scopes(auth, clock, key):
    principal = verify(make_verifier(auth, clock), mint(key, sub="user-1"))
    assert principal.subject == "user-1"
    assert principal.scopes == {"checkins:read", "checkins:write", "devices:read", "devices:write"}
    assert not principal.via_api_key


def test_api_key_token_keeps_its_limited_scopes_and_key_id(auth, clock, key):
    token = mint(key, scope="checkins:read", claims={"token_use": "api_key", "akid": "ak-42"})
    principal = verify(make_verifier(auth, clock), token)
    assert principal.scopes == {"checkins:read"}
    assert principal.api_key_id == "ak-42"
    assert principal.via_api_key


def test_api_key_token_without_key_id_is_rejected(auth, clock, key):
    token = mint(key, claims={"token_use": "api_key"})
    assert "akid" in rejected(make_verifier(auth, clock), token)


def test_unknown_token_use_is_rejected(auth, clock, key):
    token = mint(key, claims={"token_use": "refresh"})
    assert "token_use" in rejected(make_verifier(auth, clock), token)


def test_expired_token_is_rejected(auth, clock, key):
    token = mint(key, issued_at=int(time.time()) - 1000, lifetime=900)  # expired 100 s ago
    assert "expired" in rejected(make_verifier(auth, clock), token)


def test_token_not_yet_valid_is_rejected(auth, clock, key):
    token = mint(key, claims={"nbf": int(time.time()) + 600})
    assert "not yet valid" in rejected(make_verifier(auth, clock), token)


def test_wrong_issuer_is_rejected(auth, clock, key):
    token = mint(key, claims={"iss": "https://evil.example"})
    assert "iss" in rejected(make_verifier(auth, clock), token)


def test_wrong_audience_is_rejected(auth, clock, key):
    token = mint(key, claims={"aud": "another-api"})
    assert "aud" in rejected(make_verifier(auth, clock), token)


@pytest.mark.parametrize("claim", ["sub", "exp", "iss", "aud", "iat"])
def test_missing_required_claim_is_rejected(auth, clock, key, claim):
    assert claim in rejected(make_verifier(auth, clock), mint(key, drop=(claim,)))


def test_token_signed_by_an_unpublished_key_is_rejected(auth, clock):
    stranger = new_signing_key("k-current")  # same kid, different key: a forgery
    assert "signature" in rejected(make_verifier(auth, clock), mint(stranger))


def test_unknown_kid_is_rejected(auth, clock):
    assert "unknown key" in rejected(make_verifier(auth, clock), mint(new_signing_key("k-other")))


def test_alg_none_is_rejected(auth, clock, key):
    header = {"alg": "none", "typ": "at+jwt", "kid": key.kid}
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "u", "exp": int(time.time()) + 60,
              "iat": int(time.time()), "scope": "checkins:read"}  # fmt: skip
    token = f"{_b64(header)}.{_b64(claims)}."
    assert "algorithm" in rejected(make_verifier(auth, clock), token)


def test_hs256_signed_with_the_public_key_is_rejected(auth, clock, key):
    # Algorithm confusion: the attacker uses the published public key as an HMAC secret.
    # (joserfc itself refuses to build such a key, so the token is assembled by hand.)
    public_pem = key.as_pem(private=False)
    header = {"alg": "HS256", "typ": "at+jwt", "kid": key.kid}
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "u", "exp": int(time.time()) + 60,
              "iat": int(time.time()), "scope": "checkins:read"}  # fmt: skip
    signing_input = f"{_b64(header)}.{_b64(claims)}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{_b64(mac)}"
    assert "algorithm" in rejected(make_verifier(auth, clock), token)


def test_token_that_is_not_an_access_token_is_rejected(auth, clock, key):
    token = mint(key, header={"typ": "JWT"})
    assert "at+jwt" in rejected(make_verifier(auth, clock), token)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "x" * 9000, "e30.e30.e30"])
def test_garbage_is_rejected(auth, clock, garbage):
    rejected(make_verifier(auth, clock), garbage)


def test_tokens_from_the_auth_services_key_ring_verify(clock):
    # The producer's own code, in process: the contract holds end to end.
    from auth_service.core.security import KeyRing, generate_signing_key

    ring = KeyRing.from_jwks_json(
        json.dumps({"keys": [generate_signing_key()]}), issuer=ISSUER, audience=AUDIENCE
    )
    issued = ring.issue("user-7", "checkins:read devices:read")

    async def fetch():
        return ring.jwks

    verifier = TokenVerifier(
        JwksCache(fetch, ttl=300, min_refetch=30, max_stale=3600, clock=clock),
        issuer=ISSUER,
        audience=AUDIENCE,
    )
    principal = verify(verifier, issued.token)
    assert principal.subject == "user-7"
    assert principal.scopes == {"checkins:read", "devices:read"}


# --- the JWKS cache ---


def test_keys_are_fetched_once_within_the_ttl(auth, clock, key):
    verifier = make_verifier(auth, clock)
    for _ in range(5):
        verify(verifier, mint(key))
    assert auth.calls == 1
    clock.now += 301
    verify(verifier, mint(key))
    assert auth.calls == 2


def test_unknown_kid_refetches_at_most_once_per_interval(auth, clock, key):
    verifier = make_verifier(auth, clock)
    verify(verifier, mint(key))
    assert auth.calls == 1
    forged = mint(new_signing_key("k-forged"))
    rejected(verifier, forged)
    assert auth.calls == 1  # the keys were fetched this very moment: no point refetching
    clock.now += 31
    for _ in range(10):
        rejected(verifier, forged)
    clock.now += 5
    rejected(verifier, forged)
    assert auth.calls == 2  # one refetch for the first unknown kid, none within 30 s
    clock.now += 31
    rejected(verifier, forged)
    assert auth.calls == 3


def test_rotated_in_key_is_picked_up_through_the_unknown_kid_refetch(auth, clock, key):
    verifier = make_verifier(auth, clock)
    verify(verifier, mint(key))
    clock.now += 60
    new_key = new_signing_key("k-next")
    auth.keys = [new_key, key]  # the auth service rotated: new current, old still published
    assert verify(verifier, mint(new_key, sub="rotated")).subject == "rotated"
    assert verify(verifier, mint(key, sub="old")).subject == "old"


def test_stale_keys_are_served_while_the_auth_service_is_down(auth, clock, key):
    verifier = make_verifier(auth, clock)
    verify(verifier, mint(key))
    auth.down = True
    clock.now += 1800  # past the TTL, within the stale allowance
    assert verify(verifier, mint(key, sub="still-ok")).subject == "still-ok"
    calls = auth.calls
    clock.now += 10
    verify(verifier, mint(key))
    assert auth.calls == calls  # a failed refresh is not retried on every request


def test_keys_stale_beyond_the_allowance_are_not_used(auth, clock, key):
    verifier = make_verifier(auth, clock, max_stale=600)
    verify(verifier, mint(key))
    auth.down = True
    clock.now += 300 + 601
    with pytest.raises(KeysUnavailable):
        verify(verifier, mint(key))


def test_no_keys_ever_fetched_is_unavailable_not_unauthorized(auth, clock, key):
    auth.down = True
    with pytest.raises(KeysUnavailable):
        verify(make_verifier(auth, clock), mint(key))


def test_private_and_foreign_keys_in_the_jwks_are_ignored(clock, key):
    other = new_signing_key("k-private")

    async def fetch():
        return {
            "keys": [
                {**other.as_dict(private=True), "alg": "ES256"},  # must never be trusted
                {"kty": "RSA", "kid": "rsa", "n": "AQAB", "e": "AQAB"},
                "junk",
                public_jwk(key),
            ]
        }

    verifier = TokenVerifier(
        JwksCache(fetch, ttl=300, min_refetch=30, max_stale=3600, clock=clock),
        issuer=ISSUER,
        audience=AUDIENCE,
    )
    assert verify(verifier, mint(key, sub="ok")).subject == "ok"
    assert "unknown key" in rejected(verifier, mint(other))


# --- the cache of verified tokens ---


def test_a_reused_token_is_verified_once(auth, clock, key, monkeypatch):
    from checkins_app.core import security

    decodes = []
    real_decode = security.jwt.decode
    monkeypatch.setattr(
        security.jwt, "decode", lambda *a, **k: decodes.append(1) or real_decode(*a, **k)
    )
    verifier = make_verifier(auth, clock)
    token = mint(key, sub="again")
    assert [verify(verifier, token).subject for _ in range(3)] == ["again"] * 3
    assert len(decodes) == 1
    verify(verifier, mint(key))
    assert len(decodes) == 2


def test_a_cached_token_still_expires(auth, clock, key):
    wall = Clock()
    wall.now = time.time()
    cache = JwksCache(auth.fetcher(), ttl=300, min_refetch=30, max_stale=3600, clock=clock)
    verifier = TokenVerifier(cache, issuer=ISSUER, audience=AUDIENCE, leeway=30, clock=wall)
    token = mint(key, lifetime=60)
    verify(verifier, token)
    wall.now += 60 + 31
    assert "expired" in rejected(verifier, token)


def test_a_cached_token_dies_with_its_key(auth, clock, key):
    verifier = make_verifier(auth, clock)
    token = mint(key)
    verify(verifier, token)
    auth.keys = [new_signing_key("k-replacement")]  # the old key is withdrawn
    clock.now += 301
    assert "unknown key" in rejected(verifier, token)


def test_a_cached_token_needs_usable_keys(auth, clock, key):
    verifier = make_verifier(auth, clock, max_stale=600)
    token = mint(key)
    verify(verifier, token)
    auth.down = True
    clock.now += 300 + 601
    with pytest.raises(KeysUnavailable):
        verify(verifier, token)
