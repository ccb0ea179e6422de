"""Bridge between the driver's callback futures and asyncio, and its error vocabulary.

Every driver failure (timeouts, unavailable replicas, no reachable host, overload, a cluster
already shut down) becomes `StorageUnavailable`, which the HTTP layer answers with 503 and
`Retry-After`: the request did not succeed and may be retried as a whole (all writes are
idempotent).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import cassandra
from cassandra.cluster import NoHostAvailable, ResponseFuture, Session
from cassandra.connection import ConnectionException
from cassandra.protocol import ErrorMessage
from cassandra.query import Statement

DRIVER_ERRORS: tuple[type[BaseException], ...] = (
    cassandra.DriverException,  # timeouts, unavailable, coordinator failures, validation
    NoHostAvailable,
    ConnectionException,
    ErrorMessage,  # server-side errors (overloaded, bootstrapping, server error)
)


class StorageUnavailable(Exception):
    """Cassandra/Keyspaces could not complete the request; nothing is reported as done."""


class InFlight:
    """Counts driver requests not yet answered, so shutdown can wait for writes to land."""

    def __init__(self) -> None:
        self._count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def enter(self) -> None:
        self._count += 1
        self._idle.clear()

    def leave(self) -> None:
        self._count -= 1
        if self._count == 0:
            self._idle.set()

    @contextmanager
    def track(self) -> Iterator[None]:
        """Hold shutdown for a whole multi-statement operation (e.g. index rows, then rows)."""
        self.enter()
        try:
            yield
        finally:
            self.leave()

    @property
    def count(self) -> int:
        return self._count

    async def wait_idle(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True


def _wrap(error: BaseException) -> StorageUnavailable:
    wrapped = StorageUnavailable(f"{type(error).__name__}: {error}")
    wrapped.__cause__ = error
    return wrapped


async def execute(
    session: Session, statement: Statement, params: Any = None, *, tracker: InFlight | None = None
) -> list[Any]:
    """Run one statement without blocking the event loop; returns the first page of rows.

    Callers always bound their reads with LIMIT, so the first page is the whole answer.
    """
    loop = asyncio.get_running_loop()
    done: asyncio.Future[list[Any]] = loop.create_future()

    def on_rows(rows: Any) -> None:
        loop.call_soon_threadsafe(_resolve, done, list(rows) if rows is not None else [], None)

    def on_error(error: BaseException) -> None:
        loop.call_soon_threadsafe(_resolve, done, None, error)

    try:
        future: ResponseFuture = session.execute_async(statement, params)
    except (*DRIVER_ERRORS, RuntimeError) as error:  # RuntimeError: cluster shut down
        raise _wrap(error) from error
    if tracker is not None:
        tracker.enter()
        done.add_done_callback(lambda _: tracker.leave())
    # Marks a failure as seen even when the awaiting request was cancelled meanwhile.
    done.add_done_callback(_observe)
    future.add_callbacks(on_rows, on_error)
    # Shielded: a client that disconnects cancels its request task, but the write it started
    # still lands, and the tracker keeps shutdown waiting for it.
    return await asyncio.shield(done)


def _observe(done: asyncio.Future[list[Any]]) -> None:
    if not done.cancelled():
        done.exception()


def _resolve(done: asyncio.Future[list[Any]], rows: list[Any] | None, error: Any) -> None:
    if done.done():
        return
    if error is None:
        done.set_result(rows or [])
    elif isinstance(error, DRIVER_ERRORS):
        done.set_exception(_wrap(error))
    else:
        done.set_exception(error)
