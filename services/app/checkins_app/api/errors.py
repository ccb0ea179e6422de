"""The app's own error answers (the shared ones come from service_kit.errors).

Storage trouble is a 503 with `Retry-After` (the request did nothing the client can rely on and
may be retried as is); token keys that cannot be loaded are a 503 as well.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from service_kit.errors import error

from checkins_app.core.cursor import InvalidCursor
from checkins_app.core.security import KeysUnavailable
from checkins_app.store.db import StorageUnavailable

log = logging.getLogger(__name__)


def install(app: FastAPI, retry_after_seconds: int) -> None:
    @app.exception_handler(StorageUnavailable)
    async def _storage(request: Request, exc: StorageUnavailable) -> JSONResponse:
        log.warning(
            "storage unavailable",
            extra={"path": request.url.path, "method": request.method, "error": str(exc)},
        )
        detail = "storage temporarily unavailable; retry later"
        return error(503, detail, retry_after=retry_after_seconds)

    @app.exception_handler(KeysUnavailable)
    async def _keys(request: Request, exc: KeysUnavailable) -> JSONResponse:
        log.warning("token keys unavailable", extra={"path": request.url.path})
        detail = "cannot verify tokens right now; retry later"
        return error(503, detail, retry_after=retry_after_seconds)

    @app.exception_handler(InvalidCursor)
    async def _cursor(request: Request, exc: InvalidCursor) -> JSONResponse:
        return error(400, f"invalid cursor: {exc}")
