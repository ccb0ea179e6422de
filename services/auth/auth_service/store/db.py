"""The PostgreSQL connection pool (psycopg 3) and what counts as "the database is down"."""

from __future__ import annotations

import asyncio
import time
import weakref
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from auth_service.core.config import DatabaseSettings
from auth_service.store.db_auth import PasswordProvider, password_provider

# Raised when the database cannot be reached or drops the connection: the API answers 503 and
# the pool replaces the broken connections on its own, so the service recovers when it is back.
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    psycopg.OperationalError,
    psycopg.InterfaceError,
    PoolTimeout,
)


# A connection handed back this recently is taken as alive without a round trip (HikariCP's
# "alive bypass window"): under load the check would double the round trips per request,
# while a connection idle for longer (e.g. across a database restart) is still checked.
ALIVE_BYPASS_SECONDS = 0.5


class _RecentUse:
    """Remembers when each pooled connection was last returned."""

    def __init__(self) -> None:
        self._returned: weakref.WeakKeyDictionary[AsyncConnection, float] = (
            weakref.WeakKeyDictionary()
        )

    async def on_return(self, conn: AsyncConnection) -> None:
        self._returned[conn] = time.monotonic()

    async def check(self, conn: AsyncConnection) -> None:
        returned = self._returned.get(conn)
        if returned is None or time.monotonic() - returned > ALIVE_BYPASS_SECONDS:
            await AsyncConnectionPool.check_connection(conn)


def create_pool(
    settings: DatabaseSettings, password: PasswordProvider | None = None
) -> AsyncConnectionPool:
    """The service's pool. Each new connection asks ``password`` (default: the provider the
    settings describe, an IAM token on RDS) for its password; open connections keep theirs."""
    recent = _RecentUse()
    provider = password if password is not None else password_provider(settings)

    # psycopg_pool >= 3.3 calls a callable `kwargs` for every connection it opens: the public
    # way to give each new connection fresh credentials.
    async def connect_kwargs() -> dict[str, Any]:
        kwargs: dict[str, Any] = {"autocommit": True, "row_factory": dict_row}
        if provider is not None:
            kwargs["password"] = await asyncio.to_thread(provider.password)
        return kwargs

    return AsyncConnectionPool(
        settings.conninfo(password=False),
        min_size=settings.db_pool_min_size,
        max_size=settings.db_pool_max_size,
        timeout=settings.db_pool_timeout_seconds,
        # Checked on checkout unless just used, so a connection broken by a database restart
        # is replaced instead of failing a request.
        check=recent.check,
        reset=recent.on_return,
        kwargs=connect_kwargs,
        open=False,
        name="auth",
    )
