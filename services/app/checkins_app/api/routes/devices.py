"""Register and list the caller's devices."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status
from service_kit.errors import ErrorBody

from checkins_app.api.deps import RepositoryDep, RequireScope, SignerDep
from checkins_app.core.cursor import MAX_CURSOR_CHARS, DevicePosition
from checkins_app.core.security import Principal
from checkins_app.models import DEFAULT_PAGE, MAX_PAGE, Device, DeviceCreate, DevicePage
from checkins_app.store.repository import DeviceConflict, DeviceOwnedElsewhere, DeviceRow, to_millis

router = APIRouter(prefix="/v1/devices", tags=["devices"])

_errors = {
    401: {"model": ErrorBody, "description": "missing or invalid token"},
    403: {"model": ErrorBody, "description": "token lacks the scope"},
    503: {"model": ErrorBody, "description": "storage unavailable; retry after Retry-After"},
}


def _out(device: DeviceRow) -> Device:
    # The stored row's owner stays out of the answer (Device has no such field).
    return Device.model_validate(device, from_attributes=True)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Register a device (idempotent on device_id)",
    responses={**_errors, 409: {"model": ErrorBody, "description": "device id already taken"}},
)
async def register_device(
    body: DeviceCreate,
    principal: Annotated[Principal, Depends(RequireScope("devices:write"))],
    repository: RepositoryDep,
) -> Device:
    wanted = DeviceRow(
        device_id=body.device_id or uuid.uuid4(),
        owner_id=principal.subject,
        name=body.name,
        platform=body.platform,
        created_at=to_millis(datetime.now(UTC)),
    )
    try:
        stored = await repository.register_device(wanted)
    except DeviceOwnedElsewhere as error:
        raise HTTPException(status.HTTP_409_CONFLICT, "device id is already registered") from error
    except DeviceConflict as error:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            "device id is already registered with a different name or platform",
        ) from error
    return _out(stored)


@router.get("", summary="List the caller's devices", responses=_errors)
async def list_devices(
    principal: Annotated[Principal, Depends(RequireScope("devices:read"))],
    repository: RepositoryDep,
    signer: SignerDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
    cursor: Annotated[str | None, Query(max_length=MAX_CURSOR_CHARS)] = None,
) -> DevicePage:
    after = DevicePosition.decode(cursor, principal.subject, signer).device_id if cursor else None
    devices, more = await repository.list_devices(principal.subject, after, limit)
    next_cursor = (
        DevicePosition(principal.subject, devices[-1].device_id).encode(signer)
        if more and devices
        else None
    )
    return DevicePage(devices=[_out(d) for d in devices], next_cursor=next_cursor)
