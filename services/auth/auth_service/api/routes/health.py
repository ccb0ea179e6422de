"""Liveness (no database) and readiness (signing keys loaded, database reachable, schema
current)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from psycopg import errors

from auth_service.api.deps import PoolDep
from auth_service.migrate import latest_version
from auth_service.models import Status
from auth_service.store.db import UNAVAILABLE_ERRORS

router = APIRouter(tags=["health"])
_NOT_READY = {
    503: {
        "model": Status,
        "description": "no signing key, database unreachable or schema behind",
    }
}


@router.get("/health", response_model=Status)
async def health() -> Status:
    return Status(status="ok")


@router.get("/ready", response_model=Status, responses=_NOT_READY)
async def ready(request: Request, pool: PoolDep) -> Status | JSONResponse:
    keyring = request.app.state.signing_keys.keyring
    if keyring is None or keyring.current_kid is None:
        return _not_ready("signing keys unavailable")
    try:
        async with pool.connection() as conn:
            cur = await conn.execute("SELECT max(version) AS version FROM schema_migrations")
            row = await cur.fetchone()
    except errors.UndefinedTable:
        return _not_ready("migrations not applied")
    except UNAVAILABLE_ERRORS:
        return _not_ready("database unavailable")
    if row is None or row["version"] != latest_version():
        return _not_ready("migrations not applied")
    return Status(status="ready")


def _not_ready(reason: str) -> JSONResponse:
    return JSONResponse({"status": reason}, status_code=503, headers={"Retry-After": "5"})
