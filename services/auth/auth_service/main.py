"""Builds the FastAPI application: settings, key ring, password hasher, routers, lifespan.

Run with ``python -m auth_service``; configuration comes from the environment (core/config.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

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
    purger = asyncio.create_task(_purge_forever(app))
    log.info("auth service started", extra={"signing_kid": app.state.keyring.current_kid})
    try:
        yield
    finally:
        purger.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await purger
        await app.state.pool.close()
        log.info("auth service stopped")


def create_app(settings: Settings | None = None) -> FastAPI:
    """The application; without ``settings`` they are read from the environment, and an
    invalid one stops the process with one line (exit status 2)."""
    settings = settings or settings_or_exit(load_settings)
    app = service_kit.app.build(settings, name="auth_service", lifespan=lifespan, **OPENAPI_INFO)
    app.state.keyring = KeyRing.from_jwks_json(
        settings.signing_keys.get_secret_value(),
        issuer=settings.issuer,
        audience=settings.audience,
        ttl_seconds=settings.access_token_ttl_seconds,
    )
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
