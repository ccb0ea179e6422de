"""Builds the FastAPI application: settings, token verifier, repository, routers, lifespan.

Run with ``python -m checkins_app``; configuration comes from the environment (core/config.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import service_kit.app
from checkins_data.connection import KeyspacesSettings
from fastapi import FastAPI
from service_kit.settings import settings_or_exit

from checkins_app.api import errors
from checkins_app.api.routes import checkins, devices, health
from checkins_app.core.config import Settings, load_keyspaces_settings, load_settings
from checkins_app.core.cursor import CursorSigner
from checkins_app.core.security import JwksCache, TokenVerifier, http_jwks_fetcher
from checkins_app.store.repository import Repository

log = logging.getLogger(__name__)
# What /docs and /openapi.json say about the service.
OPENAPI_INFO = {
    "title": "Check-ins API",
    "version": "1.0.0",
    "summary": "Periodic check-ins from the mobile app, stored in Amazon Keyspaces",
}


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    given_client: httpx.AsyncClient | None = app.state.jwks_client
    http = given_client or httpx.AsyncClient(
        timeout=settings.auth_jwks_timeout_seconds, follow_redirects=False
    )
    keys = JwksCache(
        http_jwks_fetcher(http, str(settings.auth_jwks_url)),
        ttl=settings.auth_jwks_ttl_seconds,
        min_refetch=settings.auth_jwks_min_refetch_seconds,
        max_stale=settings.auth_jwks_max_stale_seconds,
    )
    app.state.verifier = TokenVerifier(
        keys,
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
        leeway=settings.auth_leeway_seconds,
    )
    cluster = None
    repo: Repository | None = app.state.repository
    if repo is None:
        # Imported here so tests that inject a repository need no connection settings.
        from checkins_data.connection import connect

        ks: KeyspacesSettings = app.state.keyspaces or load_keyspaces_settings()
        cluster, session = await asyncio.to_thread(connect, ks)
        repo = await asyncio.to_thread(Repository, session, ks.keyspace)
    app.state.repository = repo
    app.state.cluster = cluster
    await keys.warm()
    log.info("ready to serve", extra={"keyspace": repo.keyspace})
    try:
        yield
    finally:
        # uvicorn has stopped accepting and finished in-flight requests; writes whose
        # clients went away may still be running in the driver: let them land.
        if not await repo.drain(settings.shutdown_drain_seconds):
            pending = repo.in_flight.count
            log.warning("shutdown with statements in flight", extra={"count": pending})
        if cluster is not None:
            await asyncio.to_thread(cluster.shutdown)
        if given_client is None:
            await http.aclose()
        log.info("stopped")


def create_app(
    settings: Settings | None = None,
    *,
    keyspaces: KeyspacesSettings | None = None,
    repository: Repository | None = None,
    jwks_client: httpx.AsyncClient | None = None,
) -> FastAPI:
    """The application; without ``settings`` they are read from the environment, and an
    invalid one stops the process with one line (exit status 2).

    Without `repository`, the lifespan connects to Cassandra/Keyspaces with `keyspaces` (read
    from `KEYSPACES_*` when not given) and shuts the cluster down on exit; a given repository
    (tests) belongs to the caller. `jwks_client` replaces the HTTPS client that fetches the
    JWKS."""
    settings = settings or settings_or_exit(load_settings)
    app = service_kit.app.build(settings, name="checkins_app", lifespan=lifespan, **OPENAPI_INFO)
    app.state.cursor_signer = CursorSigner(settings.cursor_key_list())
    app.state.keyspaces = keyspaces
    app.state.repository = repository
    app.state.jwks_client = jwks_client
    errors.install(app, settings.retry_after_seconds)
    app.include_router(health.router)
    app.include_router(devices.router)
    app.include_router(checkins.router)
    return app
