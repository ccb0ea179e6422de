"""API keys for third-party integrations: create (shown once), list, revoke."""

from __future__ import annotations

import logging
from uuid import UUID

from fastapi import APIRouter, HTTPException, Response, status
from service_kit.errors import ErrorBody

from auth_service.api.deps import ConnDep, SettingsDep, UserDep
from auth_service.core.security import API_KEY_DISPLAY_CHARS, new_api_key, secret_digest
from auth_service.models import ApiKey, ApiKeyCreate, ApiKeyCreated
from auth_service.store import api_keys

router = APIRouter(
    prefix="/v1/api-keys",
    tags=["api-keys"],
    responses={
        401: {"model": ErrorBody, "description": "missing or invalid access token"},
        403: {"model": ErrorBody, "description": "not allowed with this token"},
    },
)
log = logging.getLogger("auth_service.api_keys")


def _public(row: api_keys.ApiKeyRow) -> ApiKey:
    return ApiKey(
        id=row.id,
        name=row.name,
        prefix=row.display_prefix,
        scopes=row.scopes,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyCreated,
    responses={409: {"model": ErrorBody, "description": "too many active keys"}},
)
async def create_key(
    body: ApiKeyCreate, user: UserDep, conn: ConnDep, settings: SettingsDep, response: Response
) -> ApiKeyCreated:
    missing = set(body.scopes) - user.scopes
    if missing:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"token lacks scopes: {' '.join(sorted(missing))}"
        )
    key = new_api_key()
    try:
        row = await api_keys.create(
            conn,
            user_id=user.user_id,
            name=body.name,
            key_hash=secret_digest(key),
            display_prefix=key[:API_KEY_DISPLAY_CHARS],
            scopes=list(body.scopes),
            max_active=settings.api_key_max_per_user,
        )
    except api_keys.OwnerGone:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "user no longer exists") from None
    except api_keys.TooManyKeys:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"at most {settings.api_key_max_per_user} active API keys per user",
        ) from None
    response.headers["Cache-Control"] = "no-store"
    log.info("api key created", extra={"user_id": str(user.user_id), "api_key_id": str(row.id)})
    return ApiKeyCreated(**_public(row).model_dump(), key=key)


@router.get("", response_model=list[ApiKey])
async def list_keys(user: UserDep, conn: ConnDep) -> list[ApiKey]:
    return [_public(row) for row in await api_keys.list_for_user(conn, user.user_id)]


@router.delete(
    "/{key_id}",
    response_model=ApiKey,
    responses={404: {"model": ErrorBody, "description": "no such key for this user"}},
)
async def revoke_key(key_id: UUID, user: UserDep, conn: ConnDep) -> ApiKey:
    row = await api_keys.revoke(conn, user_id=user.user_id, key_id=key_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such API key")
    log.info("api key revoked", extra={"user_id": str(user.user_id), "api_key_id": str(key_id)})
    return _public(row)
