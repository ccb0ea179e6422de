"""Error responses: always JSON, never a stack trace, never the submitted values."""

from __future__ import annotations

import logging

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from auth_service.db import UNAVAILABLE_ERRORS

log = logging.getLogger("auth_service.errors")
RETRY_AFTER_DB_SECONDS = "5"


async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    # pydantic echoes the offending input; that could be a password, so only say where and why.
    errors = [
        {
            "loc": list(err.get("loc", ())),
            "msg": str(err.get("msg", "invalid")).removeprefix("Value error, "),
            "type": err.get("type", "value_error"),
        }
        for err in exc.errors()
    ]
    return JSONResponse({"detail": errors}, status_code=422)


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable", extra={"error": type(exc).__name__})
    return JSONResponse(
        {"detail": "database unavailable, retry later"},
        status_code=503,
        headers={"Retry-After": RETRY_AFTER_DB_SECONDS},
    )


async def _invalid_data(request: Request, exc: Exception) -> JSONResponse:
    # Defence in depth: input the schemas let through but the database refuses is still the
    # client's mistake, not a server error.
    log.warning("database refused input", extra={"error": type(exc).__name__})
    return JSONResponse({"detail": "invalid input"}, status_code=422)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error", exc_info=exc)
    return JSONResponse({"detail": "internal error"}, status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    for error in UNAVAILABLE_ERRORS:
        app.add_exception_handler(error, _database_unavailable)
    app.add_exception_handler(psycopg.DataError, _invalid_data)
    app.add_exception_handler(Exception, _unexpected)
