"""Rotations in a row while two auth service tasks sign tokens and two app tasks verify them with
the real JWKS cache: not one valid token is rejected; a retired key's tokens are.

Simulated time (one clock for the rotation function, the auth tasks and the app), 30-second
steps over 17 hours. The auth tasks read the secret from moto's Secrets Manager as on AWS
(boto3, AWSCURRENT) on their own refresh phase; the app's JWKS fetches alternate between the two
tasks, as through the load balancer. Secrets Manager's part of each rotation is played by
rotation_driver.py (moto cannot invoke the Lambda).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import logging
from typing import Any

import pytest
from auth_service.api.routes.jwks import jwks as jwks_route
from auth_service.core.security import KeyRing
from auth_service.core.signing_keys import KeySource, secret_loader
from checkins_app.core.security import InvalidToken, JwksCache, TokenVerifier
from joserfc import jwt
from signing_keys import document

ISSUER = "https://auth.test.example"
AUDIENCE = "platform-api"
TOKEN_TTL = 900
REFRESH = 300  # AUTH_SIGNING_KEYS_REFRESH_SECONDS
JWKS_TTL = 300  # APP_AUTH_JWKS_TTL_SECONDS
STEP = 30
HOUR = 3600


class AuthTask:
    """One auth service task: its key source, refreshed on its own phase."""

    def __init__(self, secrets: Any, arn: str, clock: Any, phase: int) -> None:
        self.load = secret_loader(
            secrets, arn, issuer=ISSUER, audience=AUDIENCE, ttl_seconds=TOKEN_TTL, clock=clock
        )
        self.source = KeySource(load=lambda: self.load_or_fail(), clock=clock)
        self.phase = phase
        self.failing = False

    def load_or_fail(self) -> KeyRing:
        if self.failing:
            raise ConnectionError("Secrets Manager unreachable")
        return self.load()

    async def jwks(self) -> dict[str, Any]:
        assert self.source.keyring is not None
        return json.loads((await jwks_route(self.source.keyring)).body)


def header_kid(token: str) -> str:
    segment = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))["kid"]


def app_verifier(tasks: list[AuthTask], clock: Any) -> TokenVerifier:
    """An app task: the real cache and verifier, fetching through the 'load balancer'."""
    turns = itertools.cycle(tasks)

    async def fetch() -> dict[str, Any]:
        return await next(turns).jwks()

    cache = JwksCache(fetch, ttl=JWKS_TTL, min_refetch=30, max_stale=6 * HOUR, clock=clock)
    return TokenVerifier(cache, issuer=ISSUER, audience=AUDIENCE, leeway=30, clock=clock)


def test_rotations_under_load_reject_no_valid_token(secrets, secret_arn, rotation, clock):
    rotation.rotate()  # the first fill, when rotation is configured
    tasks = [AuthTask(secrets, secret_arn, clock, phase) for phase in (0, 150)]
    apps = [app_verifier(tasks, clock), app_verifier(tasks, clock)]
    rotations_at = {1 * HOUR, 5 * HOUR, 9 * HOUR, 13 * HOUR}
    # Task 1 cannot reach Secrets Manager for 40 minutes right after the second rotation.
    outage = range(5 * HOUR, 5 * HOUR + 40 * 60)
    start = clock.now
    live: list[tuple[str, float]] = []
    accepted = rejected = 0
    signing_kids: list[str] = []

    async def run() -> None:
        nonlocal accepted, rejected, live
        for task in tasks:
            assert await task.source.refresh()
        await apps[0].keys.warm()
        for elapsed in range(0, 17 * HOUR, STEP):
            clock.now = start + elapsed
            if elapsed in rotations_at:
                rotation.rotate()
            tasks[1].failing = elapsed in outage
            for task in tasks:
                if (elapsed - task.phase) % REFRESH == 0:
                    await task.source.refresh()
            for task in tasks:
                access = task.source.keyring.issue("user-1", "checkins:read")
                live.append((access.token, access.claims["exp"]))
                kid = header_kid(access.token)
                if not signing_kids or signing_kids[-1] != kid:
                    signing_kids.append(kid)
            live = [(t, exp) for t, exp in live if exp > clock.now]
            # Fresh tokens at once, every live token every five minutes.
            batch = live if elapsed % 300 == 0 else live[-len(tasks) :]
            for app in apps:
                for token, _ in batch:
                    try:
                        await app.verify(token)
                        accepted += 1
                    except InvalidToken as error:
                        rejected += 1
                        raise AssertionError(
                            f"valid token rejected at +{elapsed}s: {error}"
                        ) from error

    asyncio.run(run())
    assert rejected == 0 and accepted > 10_000
    # The first key and one per rotation signed, each in turn, never back and forth.
    assert len(signing_kids) == 5 == len(set(signing_kids))


def test_a_token_signed_with_a_retired_key_is_rejected(secrets, secret_arn, rotation, clock):
    rotation.rotate()
    task = AuthTask(secrets, secret_arn, clock, 0)
    verifier = app_verifier([task], clock)
    asyncio.run(task.source.refresh())
    clock.advance(HOUR)
    rotation.rotate()
    value = secrets.get_secret_value(SecretId=secret_arn, VersionStage="AWSCURRENT")
    old, new = document.parse(value["SecretString"]).keys

    def forged() -> str:
        """A token under the old key, made now (a leaked key, a task stuck on the old set)."""
        now = int(clock.now)
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "user-1",
            "iat": now,
            "nbf": now,
            "exp": now + TOKEN_TTL,
            "jti": "j",
            "scope": "",
        }
        header = {"alg": "ES256", "typ": "at+jwt", "kid": old.kid}
        return jwt.encode(header, claims, old.private_key(), algorithms=["ES256"])

    async def check(at: float) -> str | None:
        clock.now = at
        await task.source.refresh()
        try:
            await verifier.verify(forged())
        except InvalidToken as error:
            return str(error)
        return None

    assert old.retires_at == new.activates_at + rotation.settings.retire_after_seconds
    assert asyncio.run(check(old.retires_at - 1)) is None  # still published: verifies
    # Retired: gone from the JWKS; the app refetches at its TTL and then refuses the kid.
    assert asyncio.run(check(old.retires_at + JWKS_TTL + 1)) == "token signed by an unknown key"
    with pytest.raises(Exception, match="invalid token"):
        task.source.keyring.verify(forged())  # the auth service's own verifier agrees


def test_the_service_keeps_the_last_good_set_while_secrets_manager_fails(
    secrets, secret_arn, rotation, clock, caplog
):
    rotation.rotate()
    task = AuthTask(secrets, secret_arn, clock, 0)
    assert asyncio.run(task.source.refresh())
    ring = task.source.keyring
    task.failing = True
    clock.advance(REFRESH)
    assert not asyncio.run(task.source.refresh())
    assert task.source.keyring is ring and task.source.failures == 1
    assert ring.issue("user-1", "checkins:read").token
    # The warning only: what else the module logs depends on the level earlier tests left.
    [record] = [
        r
        for r in caplog.records
        if r.name == "auth_service.signing_keys" and r.levelno >= logging.WARNING
    ]
    assert "keeping the last good set" in record.getMessage()
    assert (record.error, record.key_set_age_seconds) == ("ConnectionError", REFRESH)
    task.failing = False
    clock.advance(HOUR)
    rotation.rotate()
    assert asyncio.run(task.source.refresh())
    assert len(task.source.keyring.key_set.keys) == 2 and task.source.failures == 0
