"""Error answers: every failure is JSON with a `detail`, never a stack trace.

Storage trouble is a 503 with `Retry-After` (the request did nothing the client can rely on and
may be retried as is); token keys that cannot be loaded are a 503 as well.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from checkins_app.core.security import KeysUnavailable
from checkins_app.cursor import InvalidCursor
from checkins_app.db import StorageUnavailable

log = logging.getLogger(__name__)


def _printable(value: Any) -> Any:
    # Validation errors echo the input, which may hold NaN/Infinity (Python's JSON parser
    # accepts them); they have no JSON form, so they are echoed as strings.
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _printable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_printable(v) for v in value]
    return value


def install(app: FastAPI, retry_after_seconds: int) -> None:
    retry_after = {"Retry-After": str(retry_after_seconds)}

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> Response:
        detail = _printable(jsonable_encoder(error.errors()))
        # ASCII escapes keep lone surrogates in echoed input encodable.
        body = json.dumps({"detail": detail}, ensure_ascii=True, allow_nan=False, default=str)
        return Response(body, status_code=422, media_type="application/json")

    @app.exception_handler(StorageUnavailable)
    async def _storage(request: Request, error: StorageUnavailable) -> JSONResponse:
        log.warning(
            "storage unavailable",
            extra={"path": request.url.path, "method": request.method, "error": str(error)},
        )
        return JSONResponse(
            {"detail": "storage temporarily unavailable; retry later"},
            status_code=503,
            headers=retry_after,
        )

    @app.exception_handler(KeysUnavailable)
    async def _keys(request: Request, error: KeysUnavailable) -> JSONResponse:
        log.warning("token keys unavailable", extra={"path": request.url.path})
        return JSONResponse(
            {"detail": "cannot verify tokens right now; retry later"},
            status_code=503,
            headers=retry_after,
        )

    @app.exception_handler(InvalidCursor)
    async def _cursor(request: Request, error: InvalidCursor) -> JSONResponse:
        return JSONResponse({"detail": f"invalid cursor: {error}"}, status_code=400)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        # A bug: log it with its traceback, answer without one.
        log.exception("unhandled error", extra={"path": request.url.path})
        return JSONResponse({"detail": "internal error"}, status_code=500)
