"""Login throttling: failure counters per account and per client IP, in fixed windows.

Kept in PostgreSQL so that every task of the service sees the same counts.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import AsyncConnection, sql


@dataclass(frozen=True)
class Limits:
    window_seconds: int
    account_max_failures: int
    ip_max_failures: int


# Seconds until a blocked account or IP may try again (NULL if neither is blocked). A scalar
# expression, so the login lookup can fetch it in the same round trip as the user.
WAIT_SQL = sql.SQL(
    "SELECT ceil(extract(epoch FROM max(window_started_at)"
    "   + make_interval(secs => %(window)s) - now()))::int"
    " FROM login_failures"
    " WHERE window_started_at > now() - make_interval(secs => %(window)s)"
    "   AND ((scope = 'account' AND key = %(account)s AND failures >= %(account_max)s)"
    "     OR (scope = 'ip' AND key = %(ip)s AND failures >= %(ip_max)s))"
)


def wait_params(limits: Limits, *, account: str | None, ip: str) -> dict[str, object]:
    return {
        "window": limits.window_seconds,
        "account": account,
        "account_max": limits.account_max_failures,
        "ip": ip,
        "ip_max": limits.ip_max_failures,
    }


def seconds_to_wait(wait: int | None) -> int | None:
    return max(int(wait), 1) if wait is not None else None


async def retry_after(
    conn: AsyncConnection, limits: Limits, *, account: str | None, ip: str
) -> int | None:
    """Seconds until a blocked account or IP may try again, or None if not blocked."""
    cur = await conn.execute(
        sql.SQL("SELECT ({}) AS wait").format(WAIT_SQL),
        wait_params(limits, account=account, ip=ip),
    )
    row = await cur.fetchone()
    return seconds_to_wait(row["wait"] if row else None)


async def record_failure(
    conn: AsyncConnection, limits: Limits, *, account: str | None, ip: str
) -> None:
    # A window that has ended starts again at 1; otherwise the count goes up by one.
    await conn.execute(
        "INSERT INTO login_failures (scope, key, failures, window_started_at)"
        " SELECT scope, key, 1, now() FROM (VALUES ('account', %(account)s), ('ip', %(ip)s))"
        "   AS v(scope, key) WHERE key IS NOT NULL"
        " ON CONFLICT (scope, key) DO UPDATE SET"
        "   failures = CASE WHEN login_failures.window_started_at"
        "       <= now() - make_interval(secs => %(window)s)"
        "     THEN 1 ELSE login_failures.failures + 1 END,"
        "   window_started_at = CASE WHEN login_failures.window_started_at"
        "       <= now() - make_interval(secs => %(window)s)"
        "     THEN now() ELSE login_failures.window_started_at END",
        {"account": account, "ip": ip, "window": limits.window_seconds},
    )


async def purge_ended(conn: AsyncConnection, limits: Limits) -> int:
    cur = await conn.execute(
        "DELETE FROM login_failures WHERE window_started_at < now() - make_interval(secs => %s)",
        (limits.window_seconds,),
    )
    return cur.rowcount
