"""Builds the FastAPI application: settings, key ring, password hasher, routers, lifespan.

Run with ``python -m auth_service``; configuration comes from the environment (core/config.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import service_kit.app
from fastapi import FastAPI
from service_kit.errors import ErrorBody
from service_kit.settings import settings_or_exit
from starlette.concurrency import run_in_threadpool

from auth_service import migrate
from auth_service.api import errors
from auth_service.api.routes import api_keys, health, jwks, tokens, users
from auth_service.core.config import Settings, load_settings
from auth_service.core.security import KeyRing, Passwords
from auth_service.core.signing_keys import KeySource, secret_loader, secrets_manager_client
from auth_service.store import refresh_tokens, throttle
from auth_service.store.db import UNAVAILABLE_ERRORS, create_pool

log = logging.getLogger("auth_service")
PURGE_INTERVAL_SECONDS = 600
EXPIRED_TOKEN_GRACE_SECONDS = 24 * 3600  # keep expired tokens a day for reuse forensics
# What /docs and /openapi.json say about the service; any route may answer 503.
OPENAPI_INFO = {
    "title": "Auth service",
    "version": "1.0.0",
    "description": "Sign-up, login, rotating refresh tokens, API keys and JWKS.",
    "responses": {
        503: {"model": ErrorBody, "description": "database unavailable; see Retry-After"}
    },
}


async def _purge_forever(app: FastAPI) -> None:
    """Delete ended throttle windows and long-expired refresh tokens, now and then."""
    limits = throttle.Limits(
        window_seconds=app.state.settings.throttle_window_seconds,
        account_max_failures=0,
        ip_max_failures=0,
    )
    while True:
        await asyncio.sleep(PURGE_INTERVAL_SECONDS)
        try:
            async with app.state.pool.connection() as conn:
                await throttle.purge_ended(conn, limits)
                await refresh_tokens.purge_expired(conn, EXPIRED_TOKEN_GRACE_SECONDS)
        except UNAVAILABLE_ERRORS as exc:
            log.warning("purge skipped: database unavailable", extra={"error": type(exc).__name__})


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    if settings.migrate_on_start:
        applied = await run_in_threadpool(migrate.apply, settings.conninfo())
        log.info("migrations checked", extra={"applied": applied})
    app.state.pool = create_pool(settings)
    # Not waiting: the service starts even while the database is down (/ready says 503).
    await app.state.pool.open(wait=False)
    keys: KeySource = app.state.signing_keys
    tasks = [asyncio.create_task(_purge_forever(app))]
    if keys.refreshes:
        # The first read, before serving (bounded by the client's timeouts); if it fails the
        # service still starts, without keys: /ready answers 503 until a refresh succeeds.
        await keys.refresh()
        tasks.append(asyncio.create_task(keys.run(settings.signing_keys_refresh_seconds)))
    ring = keys.keyring
    log.info("auth service started", extra={"signing_kid": ring.current_kid if ring else None})
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await app.state.pool.close()
        log.info("auth service stopped")


def _key_source(settings: Settings, client: Any, clock: Callable[[], float]) -> KeySource:
    ring = {
        "issuer": settings.issuer,
        "audience": settings.audience,
        "ttl_seconds": settings.access_token_ttl_seconds,
        "clock": clock,
    }
    if settings.signing_keys is not None:  # local runs and tests: fixed, from the environment
        keyring = KeyRing.from_jwks_json(settings.signing_keys.get_secret_value(), **ring)
        return KeySource(keyring, clock=clock)
    arn = settings.signing_keys_secret_arn
    assert arn is not None  # Settings requires exactly one of the two
    load = secret_loader(client or secrets_manager_client(arn), arn, **ring)
    return KeySource(load=load, clock=clock)


def create_app(
    settings: Settings | None = None,
    *,
    secrets_client: Any = None,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    """The application; without ``settings`` they are read from the environment, and an
    invalid one stops the process with one line (exit status 2). ``secrets_client`` replaces
    the Secrets Manager client and ``clock`` the time keys are chosen by (tests)."""
    settings = settings or settings_or_exit(load_settings)
    app = service_kit.app.build(settings, name="auth_service", lifespan=lifespan, **OPENAPI_INFO)
    app.state.signing_keys = _key_source(settings, secrets_client, clock)
    app.state.passwords = Passwords(
        time_cost=settings.argon2_time_cost,
        memory_kib=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
        max_concurrency=settings.argon2_max_concurrency,
    )
    errors.install(app)
    for router in (health.router, jwks.router, users.router, tokens.router, api_keys.router):
        app.include_router(router)
    return app
