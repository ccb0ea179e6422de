"""The password login's two round trips: look-up before Argon2, bookkeeping after it."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from psycopg import AsyncConnection, sql

from auth_service.store import throttle
from auth_service.store.users import UserRow


@dataclass(frozen=True)
class LoginState:
    user: UserRow | None
    retry_after: int | None


async def lookup(
    conn: AsyncConnection, limits: throttle.Limits, *, email: str, account: str, ip: str
) -> LoginState:
    """The user (if any) and the throttle verdict for this account and IP, in one query."""
    cur = await conn.execute(
        sql.SQL(
            "SELECT u.id, u.email, u.password_hash, u.created_at, ({}) AS wait"
            " FROM (VALUES (1)) AS one LEFT JOIN users u ON u.email = %(email)s"
        ).format(throttle.WAIT_SQL),
        {**throttle.wait_params(limits, account=account, ip=ip), "email": email},
    )
    row = await cur.fetchone()
    assert row is not None  # the VALUES row always comes back
    user = UserRow.model_validate(row) if row["id"] is not None else None
    return LoginState(user=user, retry_after=throttle.seconds_to_wait(row["wait"]))


async def succeed(
    conn: AsyncConnection,
    *,
    account: str,
    user_id: UUID,
    token_hash: bytes,
    scope: str,
    ttl_seconds: int,
    family_ttl_seconds: int,
) -> UUID:
    """Clear the account's failures and store the first refresh token of a new family.

    Raises psycopg.errors.ForeignKeyViolation if the user was deleted meanwhile.
    """
    cur = await conn.execute(
        "WITH cleared AS ("
        "  DELETE FROM login_failures WHERE scope = 'account' AND key = %(account)s"
        ") INSERT INTO refresh_tokens"
        " (token_hash, family_id, user_id, scope, expires_at, family_expires_at)"
        " VALUES (%(hash)s, gen_random_uuid(), %(user)s, %(scope)s,"
        " now() + make_interval(secs => least(%(ttl)s, %(family_ttl)s)),"
        " now() + make_interval(secs => %(family_ttl)s))"
        " RETURNING family_id",
        {
            "account": account,
            "hash": token_hash,
            "user": user_id,
            "scope": scope,
            "ttl": ttl_seconds,
            "family_ttl": family_ttl_seconds,
        },
    )
    row = await cur.fetchone()
    assert row is not None
    return row["family_id"]
