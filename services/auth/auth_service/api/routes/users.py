"""Sign-up."""

from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException, status
from service_kit.errors import ErrorBody

from auth_service.api.deps import ConnDep, PasswordsDep
from auth_service.models import SignUp, User
from auth_service.store import users

router = APIRouter(prefix="/v1", tags=["users"])
log = logging.getLogger("auth_service.users")


@router.post(
    "/users",
    status_code=status.HTTP_201_CREATED,
    response_model=User,
    responses={409: {"model": ErrorBody, "description": "e-mail already registered"}},
)
async def sign_up(body: SignUp, conn: ConnDep, passwords: PasswordsDep) -> User:
    password_hash = await passwords.hash_async(body.password)
    try:
        row = await users.create(conn, body.email, password_hash)
    except users.EmailTaken:
        raise HTTPException(status.HTTP_409_CONFLICT, "e-mail already registered") from None
    log.info("user created", extra={"user_id": str(row.id)})
    return User(id=row.id, email=row.email, created_at=row.created_at)
