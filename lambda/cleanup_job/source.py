"""The job's Keyspaces access: prepared statements on the agreed data model, nothing else.

Every read is a single-partition query (no scans): ``active_days`` lists the days, the sharded
``day_partitions`` index lists each day's device partitions, ``checkins_by_device_day`` is read
one partition at a time with driver paging. All statements are idempotent, so the connection's
retry and speculative-execution policies may repeat them.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from cassandra.query import PreparedStatement
from cassandra.util import Date as CassandraDate
from checkins_data import schema

# The table names in the statements below are the data model's (checkins_data.schema).
_TABLES = (schema.ACTIVE_DAYS, schema.DAY_PARTITIONS, schema.CHECKINS_BY_DEVICE_DAY)
assert _TABLES == ("active_days", "day_partitions", "checkins_by_device_day")
_KEYSPACE = re.compile(r"[a-z][a-z0-9_]{0,47}")


@dataclass(frozen=True, order=True)
class PartitionRef:
    """One device partition of one day, as listed by the day index."""

    day: dt.date
    shard: int
    device_id: uuid.UUID


def _as_date(value: Any) -> dt.date:
    return value.date() if isinstance(value, CassandraDate) else value


@dataclass(frozen=True)
class Page:
    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]


class CheckinsSource:
    """Reads and deletes the check-ins data of old days."""

    def __init__(self, session: Any, keyspace: str, fetch_size: int = 1000) -> None:
        self._session = session
        self._fetch_size = fetch_size
        if not _KEYSPACE.fullmatch(keyspace):
            raise ValueError(f"invalid keyspace name {keyspace!r}")
        self._keyspace = keyspace
        self._days = self._prepare("SELECT day FROM {ks}.active_days WHERE bucket = ? AND day < ?")
        self._index = self._prepare(
            "SELECT device_id FROM {ks}.day_partitions WHERE day = ? AND shard = ?"
        )
        self._index_any = self._prepare(
            "SELECT device_id FROM {ks}.day_partitions WHERE day = ? AND shard = ? LIMIT 1"
        )
        # SELECT *: a column added to the table later is archived too (or the partition is
        # refused as unserialisable), never silently left out of the archive and deleted.
        self._rows = self._prepare(
            "SELECT * FROM {ks}.checkins_by_device_day WHERE device_id = ? AND day = ?"
        )
        self._delete_partition = self._prepare(
            "DELETE FROM {ks}.checkins_by_device_day WHERE device_id = ? AND day = ?"
        )
        self._delete_index = self._prepare(
            "DELETE FROM {ks}.day_partitions WHERE day = ? AND shard = ? AND device_id = ?"
        )
        self._delete_day = self._prepare(
            "DELETE FROM {ks}.active_days WHERE bucket = ? AND day = ?"
        )

    def _prepare(self, template: str) -> PreparedStatement:
        statement = self._session.prepare(template.replace("{ks}", self._keyspace))
        statement.is_idempotent = True
        return statement

    def _pages(self, statement: PreparedStatement, params: Sequence[Any]) -> Iterator[Any]:
        bound = statement.bind(params)
        bound.fetch_size = self._fetch_size
        result = self._session.execute(bound)
        while True:
            yield result
            if not result.has_more_pages:
                return
            result.fetch_next_page()

    def days_before(self, cutoff: dt.date) -> list[dt.date]:
        """Days older than ``cutoff`` that still have data (one row per day: small)."""
        days: list[dt.date] = []
        for result in self._pages(self._days, (schema.ACTIVE_DAYS_BUCKET, cutoff)):
            days.extend(_as_date(row.day) for row in result.current_rows)
        return days

    def partitions(self, day: dt.date) -> Iterator[PartitionRef]:
        """Every indexed device partition of ``day``, shard by shard, paged."""
        for shard in range(schema.DAY_INDEX_SHARDS):
            for result in self._pages(self._index, (day, shard)):
                for row in result.current_rows:
                    yield PartitionRef(day=day, shard=shard, device_id=row.device_id)

    def read(self, ref: PartitionRef) -> Iterator[Page]:
        """The partition's rows in clustering order, one driver page at a time.

        The next page is requested before the current one is handed out, so Cassandra works
        on it while the caller encodes; at most two pages are in memory.
        """
        bound = self._rows.bind((ref.device_id, ref.day))
        bound.fetch_size = self._fetch_size
        future = self._session.execute_async(bound)
        result = future.result()
        columns = result.column_names
        while True:
            rows = result.current_rows
            more = future.has_more_pages
            if more:
                future.start_fetching_next_page()
            yield Page(columns=columns, rows=rows)
            if not more:
                return
            result = future.result()

    def delete_partition(self, ref: PartitionRef) -> None:
        self._session.execute(self._delete_partition, (ref.device_id, ref.day))

    def delete_index_entry(self, ref: PartitionRef) -> None:
        self._session.execute(self._delete_index, (ref.day, ref.shard, ref.device_id))

    def day_is_indexed(self, day: dt.date) -> bool:
        """True while any shard of the day index still names a partition."""
        return any(
            self._session.execute(self._index_any, (day, shard)).one() is not None
            for shard in range(schema.DAY_INDEX_SHARDS)
        )

    def delete_day(self, day: dt.date) -> None:
        self._session.execute(self._delete_day, (schema.ACTIVE_DAYS_BUCKET, day))
