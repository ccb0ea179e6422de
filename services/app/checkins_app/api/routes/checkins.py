"""Store a device's check-ins (single or batched) and read back recent ones."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from pydantic import AwareDatetime
from service_kit.errors import ErrorBody

from checkins_app.api.deps import RepositoryDep, RequireScope, SettingsDep, SignerDep
from checkins_app.core.config import Settings
from checkins_app.core.cursor import MAX_CURSOR_CHARS, CheckinPosition, InvalidCursor
from checkins_app.core.security import Principal
from checkins_app.models import (
    DEFAULT_PAGE,
    MAX_PAGE,
    CheckinAck,
    CheckinBatch,
    CheckinBatchResult,
    CheckinOut,
    CheckinPage,
    compact_json,
)
from checkins_app.store.repository import CheckinRecord, Repository, to_millis

router = APIRouter(prefix="/v1/devices/{device_id}/checkins", tags=["checkins"])

_errors = {
    401: {"model": ErrorBody, "description": "missing or invalid token"},
    403: {"model": ErrorBody, "description": "token lacks the scope, or device not the caller's"},
    404: {"model": ErrorBody, "description": "device not registered"},
    503: {"model": ErrorBody, "description": "storage unavailable; retry after Retry-After"},
}
DeviceId = Annotated[UUID, Path(description="The device's id (UUID)")]


async def _check_owner(device_id: UUID, principal: Principal, repository: Repository) -> None:
    owner = await repository.owner_of(device_id)
    if owner is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "device not registered")
    if owner != principal.subject:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "device belongs to another account")


def window_days(settings: Settings, now: datetime) -> int:
    """UTC day partitions the accepted window spans: `APP_MAX_AGE_DAYS + 1`, one more while the
    allowed clock skew reaches past midnight (a check-in may already sit in tomorrow's)."""
    oldest, newest = _window(settings, now)
    return (newest.date() - oldest.date()).days + 1


def _window(settings: Settings, now: datetime) -> tuple[datetime, datetime]:
    """Oldest and newest accepted check-in time."""
    return (
        now - timedelta(days=settings.max_age_days),
        now + timedelta(seconds=settings.max_future_skew_seconds),
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Store 1-50 check-ins (idempotent on checkin_id + ts)",
    responses=_errors,
)
async def post_checkins(
    device_id: DeviceId,
    body: CheckinBatch,
    principal: Annotated[Principal, Depends(RequireScope("checkins:write"))],
    repository: RepositoryDep,
    settings: SettingsDep,
) -> CheckinBatchResult:
    now = datetime.now(UTC)
    oldest, newest = _window(settings, now)
    problems: list[dict[str, Any]] = []
    records: list[CheckinRecord] = []
    for index, item in enumerate(body.checkins):
        ts = to_millis(item.ts)
        if not oldest <= ts <= newest:
            problems.append(
                {
                    "loc": ["body", "checkins", index, "ts"],
                    "msg": f"ts must be within the last {settings.max_age_days} days and at "
                    f"most {settings.max_future_skew_seconds} s in the future",
                    "type": "value_error.ts_window",
                    "input": item.ts.isoformat(),
                }
            )
            continue
        records.append(CheckinRecord(item.checkin_id, ts, compact_json(item.payload)))
    if problems:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, problems)
    await _check_owner(device_id, principal, repository)
    # Either every row is written, or StorageUnavailable becomes a 503 and the client retries.
    await repository.write_checkins(device_id, records, received_at=now)
    return CheckinBatchResult(
        device_id=device_id,
        stored=len(records),
        checkins=[CheckinAck(checkin_id=r.checkin_id, ts=r.ts, day=r.day) for r in records],
    )


@router.get("", summary="Recent check-ins, newest first, paged", responses=_errors)
async def get_checkins(
    request: Request,
    device_id: DeviceId,
    principal: Annotated[Principal, Depends(RequireScope("checkins:read"))],
    repository: RepositoryDep,
    settings: SettingsDep,
    signer: SignerDep,
    since: Annotated[
        AwareDatetime | None,
        Query(description="Oldest check-in time to return (default: the lookback window)"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
    cursor: Annotated[
        str | None,
        Query(max_length=MAX_CURSOR_CHARS, description="`next_cursor` of the previous page"),
    ] = None,
) -> CheckinPage:
    started = time.monotonic()
    now = datetime.now(UTC)
    oldest, newest = _window(settings, now)
    floor = oldest - timedelta(days=1)
    after: tuple[datetime, UUID | None] | None = None
    if cursor:
        # Signed, so its fields are the service's own; still, a cursor from outside today's
        # window (an old one, or one signed with a leaked key) must not widen the read.
        position = CheckinPosition.decode(cursor, device_id, signer)
        if not floor <= position.since <= position.ts <= newest:
            raise InvalidCursor(
                f"cursor is outside the last {settings.max_age_days} days; start again "
                "without a cursor"
            )
        lower, after = position.since, (position.ts, position.checkin_id)
    elif since is not None:
        lower = to_millis(since)
    else:
        lower = to_millis(now - timedelta(days=settings.default_lookback_days))
    if lower < floor:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [
                {
                    "loc": ["query", "since"],
                    "msg": f"since must be within the last {settings.max_age_days} days",
                    "type": "value_error.since_window",
                }
            ],
        )
    await _check_owner(device_id, principal, repository)
    deadline = started + settings.read_deadline_seconds

    async def stop() -> bool:
        # Between partitions: past the time budget, or nobody is waiting for the answer.
        return time.monotonic() >= deadline or await request.is_disconnected()

    page = await repository.recent_checkins(
        device_id,
        since=lower,
        newest=newest,
        after=after,
        limit=limit,
        max_partitions=window_days(settings, now),
        stop=stop,
    )
    rows = page.rows
    next_cursor = None
    if page.resume_day is not None:
        top = datetime.combine(page.resume_day, datetime.min.time(), tzinfo=UTC)
        position = CheckinPosition(device_id, max(top, lower), None, lower)
        next_cursor = position.encode(signer)
    elif page.more and rows:
        last = rows[-1]
        next_cursor = CheckinPosition(device_id, last.ts, last.checkin_id, lower).encode(signer)
    return CheckinPage(
        device_id=device_id,
        checkins=[
            CheckinOut(
                checkin_id=r.checkin_id,
                ts=r.ts,
                payload=_json(r.payload),
                received_at=r.received_at,
            )
            for r in rows
        ],
        next_cursor=next_cursor,
    )


def _json(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
