"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from checkins_app.api.deps import RepositoryDep, SettingsDep
from checkins_app.store.db import StorageUnavailable

router = APIRouter(tags=["health"])


@router.get("/health", summary="Liveness: the process serves HTTP")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/ready",
    summary="Readiness: Cassandra/Keyspaces answers a query",
    responses={503: {"description": "storage unreachable"}},
)
async def ready(repository: RepositoryDep, settings: SettingsDep) -> JSONResponse:
    try:
        await repository.ping()
    except StorageUnavailable:
        return JSONResponse(
            {
                "status": "unavailable",
                "storage": "unreachable",
                "detail": "storage temporarily unavailable; retry later",
            },
            status_code=503,
            headers={"Retry-After": str(settings.retry_after_seconds)},
        )
    return JSONResponse({"status": "ready", "storage": "ok"})
