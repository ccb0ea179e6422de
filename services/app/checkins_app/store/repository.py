"""All Cassandra/Keyspaces access of the app: prepared statements on the shared schema.

Access paths (no scans, no secondary indexes; every read names its partition):
- ownership: `devices` by `device_id`;
- the caller's devices: `devices_by_owner` by `owner_id`, paged on `device_id`;
- recent check-ins: `checkins_by_device_day` by `(device_id, day)`, newest day first, each
  partition read in clustering order (`ts DESC, checkin_id ASC`) from a position;
- cleanup bookkeeping: `active_days` and `day_partitions` are written before the check-in rows
  of a day, so the cleanup job can always find every partition.
"""

# ruff: noqa: S608 - CQL is assembled from schema constants and a keyspace name validated by
# build_schema(); every value is a bind marker.
from __future__ import annotations

import asyncio
from collections import OrderedDict, defaultdict
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from cassandra import ConsistencyLevel
from cassandra.cluster import Session
from cassandra.query import BatchStatement, BatchType, PreparedStatement, Statement
from checkins_data.schema import (
    ACTIVE_DAYS,
    ACTIVE_DAYS_BUCKET,
    CHECKINS_BY_DEVICE_DAY,
    DAY_PARTITIONS,
    DEVICES,
    DEVICES_BY_OWNER,
    MAX_BATCH_STATEMENTS,
    build_schema,
    day_of,
    shard_for,
)

from checkins_app.store.db import InFlight, StorageUnavailable, execute


def to_millis(ts: datetime) -> datetime:
    """UTC, truncated to the millisecond: what a CQL `timestamp` stores, so retries match."""
    ts = ts.astimezone(UTC)
    return ts.replace(microsecond=ts.microsecond - ts.microsecond % 1000)


def _utc(value: datetime) -> datetime:
    # The driver returns naive datetimes that are UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _field(row: Any, name: str) -> Any:
    # Works with the driver's default named-tuple rows and with dict rows.
    if isinstance(row, dict):
        return row[name]
    return getattr(row, name)


def _has(row: Any, name: str) -> bool:
    return name in row if isinstance(row, dict) else name in getattr(row, "_fields", ())


def _applied(row: Any) -> bool:
    if isinstance(row, dict):
        return bool(row["[applied]"])
    return bool(row[0])


class DeviceOwnedElsewhere(Exception):
    """The device id is registered to another caller."""


class DeviceConflict(Exception):
    """The device id is already registered by this caller with other attributes."""


@dataclass(frozen=True)
class DeviceRow:
    device_id: UUID
    owner_id: str
    name: str
    platform: str
    created_at: datetime


@dataclass(frozen=True)
class CheckinRecord:
    checkin_id: UUID
    ts: datetime  # UTC, millisecond precision (see to_millis)
    payload: str  # compact JSON, bounded by the request model

    @property
    def day(self) -> date:
        return day_of(self.ts)


@dataclass(frozen=True)
class StoredCheckin:
    checkin_id: UUID
    ts: datetime
    payload: str
    received_at: datetime | None


@dataclass(frozen=True)
class RecentPage:
    """One page of recent check-ins. `more`: a next page may exist; `resume_day`: the read
    stopped early (partition budget, deadline, client gone) and the next page starts at the
    top of that day; otherwise it starts after the last row."""

    rows: list[StoredCheckin]
    more: bool
    resume_day: date | None = None


class _BoundedSet:
    """Remembers the most recent `size` keys (index rows already written, known owners)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()

    def get(self, key: Hashable) -> Any:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: Hashable, value: Any = True) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)


async def _all(awaitables: Iterable[Awaitable[Any]]) -> list[Any]:
    """Await every statement, then raise the first failure: nothing is left unobserved."""
    results = await asyncio.gather(*awaitables, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


class Repository:
    def __init__(self, session: Session, keyspace: str, *, cache_size: int = 100_000) -> None:
        self._session = session
        self.keyspace = keyspace
        self.in_flight = InFlight()
        # Written index rows and device owners never change while the app may still write
        # them (accepted check-ins are younger than the archive retention; devices are never
        # transferred), so remembering them saves a round trip per request.
        self._days_written = _BoundedSet(4096)
        self._partitions_written = _BoundedSet(cache_size)
        self._owners = _BoundedSet(cache_size)
        ks = keyspace
        schema = build_schema(keyspace)  # validates the keyspace name

        # Every statement the app runs, for the schema-conformance tests.
        self.prepared: list[PreparedStatement] = []

        def prep(cql: str, *, idempotent: bool = True) -> PreparedStatement:
            stmt = session.prepare(cql)
            self.prepared.append(stmt)
            stmt.consistency_level = ConsistencyLevel.LOCAL_QUORUM
            stmt.is_idempotent = idempotent
            return stmt

        def insert(table: str, suffix: str = "") -> PreparedStatement:
            # Every column, in the schema's column order.
            return prep(schema.table(table).insert_cql(ks) + suffix)

        cols = "ts, checkin_id, payload, received_at"
        t = f"{ks}.{CHECKINS_BY_DEVICE_DAY}"
        self._owner_of = prep(f"SELECT owner_id FROM {ks}.{DEVICES} WHERE device_id = ?")
        # Registration claims the id atomically; a retry finds its own row and answers the same.
        self._claim_device = insert(DEVICES, " IF NOT EXISTS")
        self._claim_device.serial_consistency_level = ConsistencyLevel.LOCAL_SERIAL
        self._index_device = insert(DEVICES_BY_OWNER)
        self._read_device = prep(
            f"SELECT owner_id, name, platform, created_at FROM {ks}.{DEVICES} WHERE device_id = ?"
        )
        dev_cols = "device_id, name, platform, created_at"
        self._list_devices = prep(
            f"SELECT {dev_cols} FROM {ks}.{DEVICES_BY_OWNER} WHERE owner_id = ? LIMIT ?"
        )
        self._list_devices_after = prep(
            f"SELECT {dev_cols} FROM {ks}.{DEVICES_BY_OWNER} "
            "WHERE owner_id = ? AND device_id > ? LIMIT ?"
        )
        self._mark_day = insert(ACTIVE_DAYS)
        self._mark_partition = insert(DAY_PARTITIONS)
        self._insert_checkin = insert(CHECKINS_BY_DEVICE_DAY)
        # Reading a day partition newest first from a position (ts, checkin_id): rows with the
        # same ts and a larger id, then rows with a smaller ts. Single-column slices only, which
        # Keyspaces supports.
        self._day_from_top = prep(
            f"SELECT {cols} FROM {t} WHERE device_id = ? AND day = ? AND ts >= ? LIMIT ?"
        )
        self._day_same_ts = prep(
            f"SELECT {cols} FROM {t} WHERE device_id = ? AND day = ? AND ts = ? "
            "AND checkin_id > ? LIMIT ?"
        )
        self._day_older = prep(
            f"SELECT {cols} FROM {t} WHERE device_id = ? AND day = ? AND ts < ? AND ts >= ? LIMIT ?"
        )
        self._ping = prep("SELECT release_version FROM system.local")

    async def _run(self, statement: Statement, params: Any = None) -> list[Any]:
        return await execute(self._session, statement, params, tracker=self.in_flight)

    async def ping(self) -> None:
        await self._run(self._ping)

    async def drain(self, timeout: float) -> bool:
        """Wait until no statement is in flight (graceful shutdown); False on timeout."""
        return await self.in_flight.wait_idle(timeout)

    # --- devices ---

    async def owner_of(self, device_id: UUID) -> str | None:
        cached = self._owners.get(device_id)
        if cached is not None:
            return cached
        rows = await self._run(self._owner_of, (device_id,))
        if not rows:
            return None
        owner = _field(rows[0], "owner_id")
        self._owners.put(device_id, owner)
        return owner

    async def register_device(self, device: DeviceRow) -> DeviceRow:
        """Register `device` for its owner; a repeat of the same registration returns the
        stored device. Raises DeviceOwnedElsewhere / DeviceConflict."""
        with self.in_flight.track():
            return await self._register_device(device)

    async def _register_device(self, device: DeviceRow) -> DeviceRow:
        params = (device.device_id, device.owner_id, device.name, device.platform,
                  device.created_at)  # fmt: skip
        rows = await self._run(self._claim_device, params)
        stored = device
        if rows and not _applied(rows[0]):
            row = rows[0]
            if not _has(row, "owner_id"):
                # Amazon Keyspaces may answer a failed conditional write with `[applied]`
                # alone; the row is committed, so read it back.
                found = await self._run(self._read_device, (device.device_id,))
                if not found:
                    raise StorageUnavailable("device row not readable after a failed claim")
                row = found[0]
            stored = DeviceRow(
                device_id=device.device_id,
                owner_id=_field(row, "owner_id"),
                name=_field(row, "name"),
                platform=_field(row, "platform"),
                created_at=_utc(_field(row, "created_at")),
            )
            if stored.owner_id != device.owner_id:
                raise DeviceOwnedElsewhere(str(device.device_id))
            if (stored.name, stored.platform) != (device.name, device.platform):
                raise DeviceConflict(str(device.device_id))
        # Rewritten on every (re)try, so a crash between the two writes heals on retry.
        await self._run(
            self._index_device,
            (stored.owner_id, stored.device_id, stored.name, stored.platform, stored.created_at),
        )
        self._owners.put(stored.device_id, stored.owner_id)
        return stored

    async def list_devices(
        self, owner_id: str, after: UUID | None, limit: int
    ) -> tuple[list[DeviceRow], bool]:
        if after is None:
            rows = await self._run(self._list_devices, (owner_id, limit + 1))
        else:
            rows = await self._run(self._list_devices_after, (owner_id, after, limit + 1))
        devices = [
            DeviceRow(
                device_id=_field(r, "device_id"),
                owner_id=owner_id,
                name=_field(r, "name"),
                platform=_field(r, "platform"),
                created_at=_utc(_field(r, "created_at")),
            )
            for r in rows
        ]
        return devices[:limit], len(devices) > limit

    # --- check-ins ---

    async def write_checkins(
        self, device_id: UUID, records: list[CheckinRecord], received_at: datetime
    ) -> None:
        """Store `records` (idempotent). Index rows first, then the check-ins; any failure
        raises StorageUnavailable and the caller reports nothing as stored."""
        with self.in_flight.track():
            await self._write_checkins(device_id, records, received_at)

    async def _write_checkins(
        self, device_id: UUID, records: list[CheckinRecord], received_at: datetime
    ) -> None:
        days = sorted({r.day for r in records})
        index_writes: list[Awaitable[Any]] = []
        for day in days:
            if self._days_written.get(day) is None:
                index_writes.append(self._run(self._mark_day, (ACTIVE_DAYS_BUCKET, day)))
            if self._partitions_written.get((day, device_id)) is None:
                index_writes.append(
                    self._run(self._mark_partition, (day, shard_for(device_id), device_id))
                )
        await _all(index_writes)
        for day in days:
            self._days_written.put(day)
            self._partitions_written.put((day, device_id))

        received = to_millis(received_at)
        by_day: dict[date, list[CheckinRecord]] = defaultdict(list)
        for record in records:
            by_day[record.day].append(record)
        writes: list[Awaitable[Any]] = []
        for day, group in by_day.items():
            rows = [(device_id, day, r.ts, r.checkin_id, r.payload, received) for r in group]
            if len(rows) == 1:
                writes.append(self._run(self._insert_checkin, rows[0]))
                continue
            # Rows of one partition go together: an unlogged single-partition batch is one
            # mutation, and within Keyspaces' 30-statement limit.
            for start in range(0, len(rows), MAX_BATCH_STATEMENTS):
                batch = BatchStatement(
                    batch_type=BatchType.UNLOGGED,
                    consistency_level=ConsistencyLevel.LOCAL_QUORUM,
                )
                batch.is_idempotent = True
                for params in rows[start : start + MAX_BATCH_STATEMENTS]:
                    batch.add(self._insert_checkin, params)
                writes.append(self._run(batch))
        await _all(writes)

    async def recent_checkins(
        self,
        device_id: UUID,
        *,
        since: datetime,
        newest: datetime,
        after: tuple[datetime, UUID | None] | None,
        limit: int,
        max_partitions: int | None = None,
        stop: Callable[[], Awaitable[bool]] | None = None,
    ) -> RecentPage:
        """Check-ins with `since <= ts`, newest first, starting after position `after` (or
        at the newest day, the day of `newest`; `(ts, None)`: at the top of the day of `ts`).

        The work is bounded whatever the input: at most `max_partitions` day partitions, and
        after each partition `stop()` (deadline reached, client gone) may end the read early.
        At least one partition is read, so paging always progresses. A read that ends before
        the window is exhausted and before the page is full says where to resume
        (`resume_day`: read that day from its top next)."""
        want = limit + 1
        found: list[Any] = []
        day = day_of(after[0]) if after is not None else day_of(newest)
        first_day = day_of(since)
        visited = 0
        resume_day: date | None = None
        while day >= first_day and len(found) < want:
            if visited and (
                (max_partitions is not None and visited >= max_partitions)
                or (stop is not None and await stop())
            ):
                resume_day = day
                break
            if after is not None and after[1] is not None and day == day_of(after[0]):
                ts, checkin_id = after
                found += await self._run(
                    self._day_same_ts, (device_id, day, ts, checkin_id, want - len(found))
                )
                if len(found) < want:
                    found += await self._run(
                        self._day_older, (device_id, day, ts, since, want - len(found))
                    )
            else:
                found += await self._run(
                    self._day_from_top, (device_id, day, since, want - len(found))
                )
            visited += 1
            day -= timedelta(days=1)
        page = [
            StoredCheckin(
                checkin_id=_field(r, "checkin_id"),
                ts=_utc(_field(r, "ts")),
                payload=_field(r, "payload"),
                received_at=None if _field(r, "received_at") is None
                else _utc(_field(r, "received_at")),
            )
            for r in found[:limit]
        ]  # fmt: skip
        if len(found) > limit:
            resume_day = None  # the page is full: the next one starts after its last row
        return RecentPage(page, more=len(found) > limit or resume_day is not None,
                          resume_day=resume_day)  # fmt: skip
