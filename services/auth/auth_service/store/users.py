"""Users table access."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from psycopg import AsyncConnection, errors
from pydantic import BaseModel


class UserRow(BaseModel):
    id: UUID
    email: str
    password_hash: str
    created_at: datetime


class EmailTaken(Exception):
    pass


async def create(conn: AsyncConnection, email: str, password_hash: str) -> UserRow:
    try:
        cur = await conn.execute(
            "INSERT INTO users (email, password_hash) VALUES (%s, %s)"
            " RETURNING id, email, password_hash, created_at",
            (email, password_hash),
        )
    except errors.UniqueViolation:
        raise EmailTaken(email) from None
    row = await cur.fetchone()
    assert row is not None
    return UserRow.model_validate(row)


async def update_password_hash(conn: AsyncConnection, user_id: UUID, password_hash: str) -> None:
    await conn.execute(
        "UPDATE users SET password_hash = %s, updated_at = now() WHERE id = %s",
        (password_hash, user_id),
    )
