"""The auth service's own error answers (the shared ones come from service_kit.errors)."""

from __future__ import annotations

import logging

import psycopg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from service_kit.errors import error

from auth_service.core.security import KeysUnavailable
from auth_service.store.db import UNAVAILABLE_ERRORS

log = logging.getLogger("auth_service.errors")
RETRY_AFTER_DB_SECONDS = 5


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable", extra={"error": type(exc).__name__})
    return error(503, "database unavailable, retry later", retry_after=RETRY_AFTER_DB_SECONDS)


async def _invalid_data(request: Request, exc: Exception) -> JSONResponse:
    # Defence in depth: input the schemas let through but the database refuses is still the
    # client's mistake, not a server error.
    log.warning("database refused input", extra={"error": type(exc).__name__})
    return error(422, "invalid input")


async def _keys_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("no signing key available", extra={"error": str(exc)})
    return error(503, "signing keys unavailable, retry later", retry_after=RETRY_AFTER_DB_SECONDS)


def install(app: FastAPI) -> None:
    app.add_exception_handler(KeysUnavailable, _keys_unavailable)
    for unavailable in UNAVAILABLE_ERRORS:
        app.add_exception_handler(unavailable, _database_unavailable)
    app.add_exception_handler(psycopg.DataError, _invalid_data)
