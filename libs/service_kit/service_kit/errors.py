"""The JSON error body and the handlers every service installs: 4xx say what was wrong without
echoing the submitted values, and a bug is a logged traceback but a bare 500 for the client."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from service_kit.middleware import with_security_headers

log = logging.getLogger("service_kit.errors")


class ErrorBody(BaseModel):
    """Every error answer: a human-readable `detail`, a list of `{loc, msg, type}` for
    validation errors."""

    detail: str | list[dict[str, Any]]


def error(status: int, detail: str, retry_after: int | None = None) -> JSONResponse:
    """An error answer; ``retry_after`` (seconds) for a 503 the client may simply retry."""
    headers = None if retry_after is None else {"Retry-After": str(retry_after)}
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


async def _invalid(request: Request, exc: RequestValidationError) -> Response:
    # pydantic echoes the offending input; that could be a password, so only say where and why.
    detail = [
        {
            "loc": list(err.get("loc", ())),
            "msg": str(err.get("msg", "invalid")).removeprefix("Value error, "),
            "type": err.get("type", "value_error"),
        }
        for err in exc.errors()
    ]
    # A location can still hold a client's dict key: ASCII escapes keep lone surrogates
    # encodable, and anything odd is written as a string.
    body = json.dumps({"detail": detail}, ensure_ascii=True, allow_nan=False, default=str)
    return Response(body, status_code=422, media_type="application/json")


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # A bug: log it with its traceback, answer without one.
    log.error(
        "unhandled error",
        exc_info=exc,
        extra={"method": request.method, "path": request.url.path},
    )
    # Starlette sends this answer outside the user middleware: add the headers here.
    response = error(500, "internal error")
    response.raw_headers[:] = with_security_headers(response.raw_headers)
    return response


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _invalid)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)
