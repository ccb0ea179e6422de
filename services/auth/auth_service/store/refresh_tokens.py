"""Refresh tokens: stored as SHA-256 digests, grouped in families, single use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from psycopg import AsyncConnection


@dataclass(frozen=True)
class Rotated:
    user_id: UUID
    family_id: UUID
    scope: str


@dataclass(frozen=True)
class TokenState:
    family_id: UUID
    user_id: UUID
    used_at: datetime | None
    revoked_at: datetime | None
    expired: bool


async def rotate(
    conn: AsyncConnection, *, old_hash: bytes, new_hash: bytes, ttl_seconds: int
) -> Rotated | None:
    """Consume a live token and store its successor, in one statement.

    The UPDATE only matches an unused, unrevoked, unexpired token and takes its row lock, so of
    two concurrent rotations of the same token exactly one matches: the other re-checks the row
    after the winner commits, finds ``used_at`` set and returns nothing.
    """
    cur = await conn.execute(
        "WITH consumed AS ("
        "  UPDATE refresh_tokens SET used_at = now()"
        "  WHERE token_hash = %(old)s AND used_at IS NULL AND revoked_at IS NULL"
        "    AND expires_at > now()"
        "  RETURNING family_id, user_id, scope, family_expires_at"
        ") INSERT INTO refresh_tokens"
        " (token_hash, family_id, user_id, scope, expires_at, family_expires_at)"
        " SELECT %(new)s, family_id, user_id, scope,"
        "   least(now() + make_interval(secs => %(ttl)s), family_expires_at), family_expires_at"
        " FROM consumed RETURNING user_id, family_id, scope",
        {"old": old_hash, "new": new_hash, "ttl": ttl_seconds},
    )
    row = await cur.fetchone()
    return Rotated(**row) if row else None


async def state(conn: AsyncConnection, token_hash: bytes) -> TokenState | None:
    cur = await conn.execute(
        "SELECT family_id, user_id, used_at, revoked_at, expires_at <= now() AS expired"
        " FROM refresh_tokens WHERE token_hash = %s",
        (token_hash,),
    )
    row = await cur.fetchone()
    return TokenState(**row) if row else None


async def revoke_family(conn: AsyncConnection, family_id: UUID) -> int:
    cur = await conn.execute(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = %s AND revoked_at IS NULL",
        (family_id,),
    )
    return cur.rowcount


async def purge_expired(conn: AsyncConnection, older_than_seconds: int) -> int:
    cur = await conn.execute(
        "DELETE FROM refresh_tokens WHERE expires_at < now() - make_interval(secs => %s)",
        (older_than_seconds,),
    )
    return cur.rowcount
