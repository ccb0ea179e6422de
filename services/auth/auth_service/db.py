"""The PostgreSQL connection pool (psycopg 3) and what counts as "the database is down"."""

from __future__ import annotations

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from auth_service.core.config import DatabaseSettings

# Raised when the database cannot be reached or drops the connection: the API answers 503 and
# the pool replaces the broken connections on its own, so the service recovers when it is back.
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    psycopg.OperationalError,
    psycopg.InterfaceError,
    PoolTimeout,
)


def create_pool(settings: DatabaseSettings) -> AsyncConnectionPool:
    return AsyncConnectionPool(
        settings.conninfo(),
        min_size=settings.db_pool_min_size,
        max_size=settings.db_pool_max_size,
        timeout=settings.db_pool_timeout_seconds,
        # Checked on checkout, so a connection broken by a database restart is never handed out.
        check=AsyncConnectionPool.check_connection,
        kwargs={"autocommit": True, "row_factory": dict_row},
        open=False,
        name="auth",
    )
