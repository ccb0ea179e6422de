"""API keys for third-party integrations: stored as SHA-256 digests, scoped, revocable."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from psycopg import AsyncConnection
from pydantic import BaseModel


class ApiKeyRow(BaseModel):
    id: UUID
    user_id: UUID
    name: str
    display_prefix: str
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TooManyKeys(Exception):
    pass


class OwnerGone(Exception):
    """The user behind a still-valid access token has been deleted."""


async def create(
    conn: AsyncConnection,
    *,
    user_id: UUID,
    name: str,
    key_hash: bytes,
    display_prefix: str,
    scopes: list[str],
    max_active: int,
) -> ApiKeyRow:
    # Locking the owner's row serialises key creation per user, so the count that follows is
    # current (each statement reads a fresh snapshot) and the limit holds under concurrency.
    async with conn.transaction():
        cur = await conn.execute("SELECT id FROM users WHERE id = %s FOR UPDATE", (user_id,))
        if await cur.fetchone() is None:
            raise OwnerGone
        cur = await conn.execute(
            "SELECT count(*) AS active FROM api_keys WHERE user_id = %s AND revoked_at IS NULL",
            (user_id,),
        )
        counted = await cur.fetchone()
        if counted is not None and counted["active"] >= max_active:
            raise TooManyKeys
        cur = await conn.execute(
            "INSERT INTO api_keys (user_id, name, key_hash, display_prefix, scopes)"
            " VALUES (%s, %s, %s, %s, %s)"
            " RETURNING id, user_id, name, display_prefix, scopes, created_at, last_used_at,"
            " revoked_at",
            (user_id, name, key_hash, display_prefix, scopes),
        )
        row = await cur.fetchone()
    assert row is not None
    return ApiKeyRow.model_validate(row)


async def list_for_user(conn: AsyncConnection, user_id: UUID) -> list[ApiKeyRow]:
    cur = await conn.execute(
        "SELECT id, user_id, name, display_prefix, scopes, created_at, last_used_at, revoked_at"
        " FROM api_keys WHERE user_id = %s ORDER BY created_at DESC",
        (user_id,),
    )
    return [ApiKeyRow.model_validate(row) for row in await cur.fetchall()]


async def revoke(conn: AsyncConnection, *, user_id: UUID, key_id: UUID) -> ApiKeyRow | None:
    """Revoke one of the user's keys (idempotent); None if the user has no such key."""
    cur = await conn.execute(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())"
        " WHERE id = %s AND user_id = %s"
        " RETURNING id, user_id, name, display_prefix, scopes, created_at, last_used_at,"
        " revoked_at",
        (key_id, user_id),
    )
    row = await cur.fetchone()
    return ApiKeyRow.model_validate(row) if row else None


async def use(conn: AsyncConnection, key_hash: bytes) -> ApiKeyRow | None:
    """The live key with this digest (marking it used), or None."""
    cur = await conn.execute(
        "UPDATE api_keys SET last_used_at = now() WHERE key_hash = %s AND revoked_at IS NULL"
        " RETURNING id, user_id, name, display_prefix, scopes, created_at, last_used_at,"
        " revoked_at",
        (key_hash,),
    )
    row = await cur.fetchone()
    return ApiKeyRow.model_validate(row) if row else None
