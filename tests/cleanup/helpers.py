"""Test helpers: seed check-ins the way the app writes them, read the archive back."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import random
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cassandra.concurrent import execute_concurrent_with_args
from checkins_data import schema

EPOCH = dt.datetime(1970, 1, 1)


@dataclass(frozen=True, order=True)
class Checkin:
    """A row as the tests know it, independent of the job's serialiser."""

    device_id: uuid.UUID
    day: dt.date
    ts_ms: int
    checkin_id: uuid.UUID
    payload: str
    received_ms: int | None

    @property
    def ts(self) -> dt.datetime:
        return EPOCH + dt.timedelta(milliseconds=self.ts_ms)

    @property
    def received_at(self) -> dt.datetime | None:
        if self.received_ms is None:
            return None
        return EPOCH + dt.timedelta(milliseconds=self.received_ms)


def _ms(day: dt.date) -> int:
    return (dt.datetime.combine(day, dt.time()) - EPOCH) // dt.timedelta(milliseconds=1)


def make_checkins(
    rng: random.Random,
    days: Iterable[dt.date],
    devices: Iterable[uuid.UUID],
    per_partition: int | tuple[int, int],
    payload_bytes: int = 60,
) -> list[Checkin]:
    rows: list[Checkin] = []
    devices = list(devices)
    for day in days:
        for device in devices:
            count = per_partition if isinstance(per_partition, int) else rng.randint(*per_partition)
            for _ in range(count):
                ts = _ms(day) + rng.randrange(86_400_000)
                payload = json.dumps(
                    {"battery": rng.randint(0, 100), "note": "é✓" + "x" * payload_bytes}
                )
                received = None if rng.random() < 0.2 else ts + rng.randrange(5_000)
                rows.append(
                    Checkin(device, day, ts, uuid.UUID(int=rng.getrandbits(128)), payload, received)
                )
    return rows


class Seeder:
    """Writes check-ins in the app's order: active_days, day_partitions, then the row."""

    def __init__(self, session: Any, keyspace: str) -> None:
        model = schema.build_schema(keyspace)
        self.session = session
        self.keyspace = keyspace
        self._row = session.prepare(
            f"INSERT INTO {keyspace}.checkins_by_device_day "
            "(device_id, day, ts, checkin_id, payload, received_at) VALUES (?, ?, ?, ?, ?, ?)"
        )
        self._index = session.prepare(model.table(schema.DAY_PARTITIONS).insert_cql(keyspace))
        self._day = session.prepare(model.table(schema.ACTIVE_DAYS).insert_cql(keyspace))

    def write(self, rows: list[Checkin], concurrency: int = 64) -> None:
        days = sorted({r.day for r in rows})
        partitions = sorted({(r.day, r.device_id) for r in rows})
        execute_concurrent_with_args(
            self.session,
            self._day,
            [(schema.ACTIVE_DAYS_BUCKET, d) for d in days],
            raise_on_first_error=True,
        )
        execute_concurrent_with_args(
            self.session,
            self._index,
            [(d, schema.shard_for(dev), dev) for d, dev in partitions],
            raise_on_first_error=True,
        )
        execute_concurrent_with_args(
            self.session,
            self._row,
            [(r.device_id, r.day, r.ts, r.checkin_id, r.payload, r.received_at) for r in rows],
            concurrency=concurrency,
            raise_on_first_error=True,
        )

    def table_rows(self) -> list[Checkin]:
        """Every row of the check-ins table (a full scan: fine for a test's small keyspace)."""
        result = self.session.execute(
            f"SELECT device_id, day, ts, checkin_id, payload, received_at "
            f"FROM {self.keyspace}.checkins_by_device_day"
        )
        return sorted(
            Checkin(
                r.device_id,
                r.day.date(),
                round((r.ts - EPOCH) / dt.timedelta(milliseconds=1)),
                r.checkin_id,
                r.payload,
                None
                if r.received_at is None
                else round((r.received_at - EPOCH) / dt.timedelta(milliseconds=1)),
            )
            for r in result
        )

    def index_entries(self, day: dt.date) -> set[uuid.UUID]:
        found: set[uuid.UUID] = set()
        for shard in range(schema.DAY_INDEX_SHARDS):
            rows = self.session.execute(
                f"SELECT device_id FROM {self.keyspace}.day_partitions "
                "WHERE day = %s AND shard = %s",
                (day, shard),
            )
            found.update(r.device_id for r in rows)
        return found

    def active_days(self) -> set[dt.date]:
        rows = self.session.execute(
            f"SELECT day FROM {self.keyspace}.active_days WHERE bucket = %s",
            (schema.ACTIVE_DAYS_BUCKET,),
        )
        return {r.day.date() for r in rows}


def _parse_ms(text: str) -> int:
    assert text.endswith("Z"), text
    value = dt.datetime.fromisoformat(text[:-1])
    return round((value - EPOCH) / dt.timedelta(milliseconds=1))


def archive_objects(s3: Any, bucket: str, prefix: str = "checkins/") -> dict[str, bytes]:
    objects: dict[str, bytes] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            objects[item["Key"]] = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    return objects


def archived_rows(s3: Any, bucket: str) -> list[Checkin]:
    """Every row in every archive object (duplicates kept: callers check for them)."""
    rows: list[Checkin] = []
    for data in archive_objects(s3, bucket).values():
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as inflated:
            for line in inflated:
                record = json.loads(line)
                rows.append(
                    Checkin(
                        uuid.UUID(record["device_id"]),
                        dt.date.fromisoformat(record["day"]),
                        _parse_ms(record["ts"]),
                        uuid.UUID(record["checkin_id"]),
                        record["payload"],
                        None if record["received_at"] is None else _parse_ms(record["received_at"]),
                    )
                )
    return sorted(rows)


class Killed(BaseException):
    """Stands in for the process being killed: the job's ``except Exception`` never sees it."""


def kill_at(step: str, occurrence: int = 1):
    """A probe that kills the run the ``occurrence``-th time ``step`` completes."""
    seen = {"n": 0}

    def probe(name: str, subject: object) -> None:
        if name == step:
            seen["n"] += 1
            if seen["n"] == occurrence:
                raise Killed(f"killed after {step} #{occurrence} ({subject})")

    probe.fired = lambda: seen["n"] >= occurrence  # type: ignore[attr-defined]
    return probe


class FakeLambdaContext:
    """Lambda context whose remaining time drops by ``step_ms`` on every query."""

    def __init__(self, remaining_ms: int, step_ms: int = 0) -> None:
        self.remaining_ms = remaining_ms
        self.step_ms = step_ms
        self.function_name = "cleanup-test"
        self.aws_request_id = "test-request"

    def get_remaining_time_in_millis(self) -> int:
        value = self.remaining_ms
        self.remaining_ms = max(0, self.remaining_ms - self.step_ms)
        return value
