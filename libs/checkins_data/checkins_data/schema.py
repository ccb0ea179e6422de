"""The check-ins keyspace: one description of every table, rendered as CQL and as Terraform.

The app, the cleanup job, the test harness and the Terraform construct
(`modules/keyspaces.py`) all read these objects, so the tables the code queries and the tables
Terraform creates cannot drift apart. Only features Amazon Keyspaces supports are used: no
secondary indexes, no materialized views, no TRUNCATE, no counters or static columns.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

DEFAULT_KEYSPACE = "checkins"
# Longer than the archive retention so the cleanup job, not the TTL, normally removes data; the
# TTL only bounds storage if the job stops running.
DEFAULT_SAFETY_TTL_DAYS = 400
# One day's index of device partitions is spread over this many partitions so no single
# partition grows with the number of devices.
DAY_INDEX_SHARDS = 16
# `active_days` keeps all its rows in one partition: one row per day with data.
ACTIVE_DAYS_BUCKET = "checkins"
# Amazon Keyspaces rejects larger unlogged batches.
MAX_BATCH_STATEMENTS = 30

DEVICES = "devices"
DEVICES_BY_OWNER = "devices_by_owner"
CHECKINS_BY_DEVICE_DAY = "checkins_by_device_day"
DAY_PARTITIONS = "day_partitions"
ACTIVE_DAYS = "active_days"
# No TTL: a lease row is deleted by the run holding it, a killed run's by the run taking over.
CLEANUP_LEASES = "cleanup_leases"

# Keyspaces: names of 1-48 characters, letters, digits and underscores. Lower case only here so
# unquoted CQL identifiers and Terraform names are the same string.
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
# The CQL types this model uses; Keyspaces supports all of them.
CQL_TYPES = frozenset(
    {"uuid", "text", "timestamp", "date", "smallint", "int", "bigint", "boolean", "blob"}
)
MAX_TTL_SECONDS = 630_720_000  # 20 years: the Cassandra and Keyspaces maximum

ClusteringOrder = Literal["ASC", "DESC"]


def _check_name(kind: str, name: str) -> None:
    if not _NAME.fullmatch(name):
        raise ValueError(
            f"{kind} {name!r} must be 1-48 characters: a lower-case letter, then lower-case "
            "letters, digits or underscores"
        )


@dataclass(frozen=True)
class Column:
    name: str
    cql_type: str

    def __post_init__(self) -> None:
        _check_name("column name", self.name)
        if self.cql_type not in CQL_TYPES:
            raise ValueError(f"column {self.name!r}: unsupported CQL type {self.cql_type!r}")


@dataclass(frozen=True)
class ClusteringColumn:
    name: str
    order: ClusteringOrder = "ASC"

    def __post_init__(self) -> None:
        if self.order not in ("ASC", "DESC"):
            raise ValueError(f"clustering column {self.name!r}: order must be ASC or DESC")


@dataclass(frozen=True)
class Table:
    """One table: its columns, primary key and default TTL (None: no TTL)."""

    name: str
    columns: tuple[Column, ...]
    partition_key: tuple[str, ...]
    clustering: tuple[ClusteringColumn, ...] = ()
    default_ttl_seconds: int | None = None
    purpose: str = ""

    def __post_init__(self) -> None:
        _check_name("table name", self.name)
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"table {self.name!r}: duplicate column names")
        if not self.partition_key:
            raise ValueError(f"table {self.name!r}: needs a partition key")
        key = [*self.partition_key, *(c.name for c in self.clustering)]
        if len(set(key)) != len(key):
            raise ValueError(f"table {self.name!r}: a column appears twice in the primary key")
        missing = [k for k in key if k not in names]
        if missing:
            raise ValueError(f"table {self.name!r}: key columns {missing} are not columns")
        ttl = self.default_ttl_seconds
        if ttl is not None and not 0 < ttl <= MAX_TTL_SECONDS:
            raise ValueError(
                f"table {self.name!r}: default TTL {ttl}s must be within 1..{MAX_TTL_SECONDS}"
            )

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column_type(self, name: str) -> str:
        for column in self.columns:
            if column.name == name:
                return column.cql_type
        raise KeyError(f"table {self.name!r} has no column {name!r}")

    def create_cql(self, keyspace: str) -> str:
        """`CREATE TABLE IF NOT EXISTS` for this table in `keyspace`."""
        _check_name("keyspace name", keyspace)
        lines = [f"    {c.name} {c.cql_type}," for c in self.columns]
        partition = ", ".join(self.partition_key)
        key = ", ".join([f"({partition})", *(c.name for c in self.clustering)])
        lines.append(f"    PRIMARY KEY ({key})")
        options = []
        if self.clustering:
            order = ", ".join(f"{c.name} {c.order}" for c in self.clustering)
            options.append(f"CLUSTERING ORDER BY ({order})")
        if self.default_ttl_seconds is not None:
            options.append(f"default_time_to_live = {self.default_ttl_seconds}")
        body = "\n".join(lines)
        with_clause = f"\nWITH {' AND '.join(options)}" if options else ""
        return f"CREATE TABLE IF NOT EXISTS {keyspace}.{self.name} (\n{body}\n){with_clause}"

    def insert_cql(self, keyspace: str, *, ttl_bind: bool = False) -> str:
        """`INSERT` of every column, with `?` markers in column order (for prepared statements)."""
        _check_name("keyspace name", keyspace)
        cols = ", ".join(self.column_names)
        marks = ", ".join("?" for _ in self.columns)
        ttl = " USING TTL ?" if ttl_bind else ""
        # Identifiers are validated names, values are bind markers: nothing user-supplied.
        return f"INSERT INTO {keyspace}.{self.name} ({cols}) VALUES ({marks}){ttl}"  # noqa: S608


@dataclass(frozen=True)
class Schema:
    keyspace: str
    tables: tuple[Table, ...]

    def __post_init__(self) -> None:
        _check_name("keyspace name", self.keyspace)
        names = [t.name for t in self.tables]
        if len(set(names)) != len(names):
            raise ValueError("duplicate table names")

    def table(self, name: str) -> Table:
        for table in self.tables:
            if table.name == name:
                return table
        raise KeyError(f"no table {name!r} in keyspace {self.keyspace!r}")

    def create_keyspace_cql(self, replication: Mapping[str, str | int] | None = None) -> str:
        """`CREATE KEYSPACE IF NOT EXISTS`; the default replication suits a one-node cluster.

        On Amazon Keyspaces the keyspace comes from Terraform; this is for Cassandra.
        """
        repl = dict(replication or {"class": "SimpleStrategy", "replication_factor": 1})
        rendered = ", ".join(
            f"'{k}': {v}" if isinstance(v, int) else f"'{k}': '{v}'" for k, v in repl.items()
        )
        return f"CREATE KEYSPACE IF NOT EXISTS {self.keyspace} WITH replication = {{{rendered}}}"

    def create_statements(
        self, replication: Mapping[str, str | int] | None = None
    ) -> tuple[str, ...]:
        """Every statement that builds the keyspace on Cassandra, in order; idempotent."""
        return (
            self.create_keyspace_cql(replication),
            *(t.create_cql(self.keyspace) for t in self.tables),
        )


def build_schema(
    keyspace: str = DEFAULT_KEYSPACE, *, safety_ttl_days: int = DEFAULT_SAFETY_TTL_DAYS
) -> Schema:
    """The check-ins data model in `keyspace`, with the safety-net TTL on the day-based tables."""
    if safety_ttl_days <= 0:
        raise ValueError(f"safety_ttl_days must be positive, got {safety_ttl_days}")
    ttl = safety_ttl_days * 86_400
    return Schema(
        keyspace=keyspace,
        tables=(
            Table(
                name=DEVICES,
                columns=(
                    Column("device_id", "uuid"),
                    Column("owner_id", "text"),
                    Column("name", "text"),
                    Column("platform", "text"),
                    Column("created_at", "timestamp"),
                ),
                partition_key=("device_id",),
                purpose="ownership check by device id",
            ),
            Table(
                name=DEVICES_BY_OWNER,
                columns=(
                    Column("owner_id", "text"),
                    Column("device_id", "uuid"),
                    Column("name", "text"),
                    Column("platform", "text"),
                    Column("created_at", "timestamp"),
                ),
                partition_key=("owner_id",),
                clustering=(ClusteringColumn("device_id", "ASC"),),
                purpose="list the caller's devices",
            ),
            Table(
                name=CHECKINS_BY_DEVICE_DAY,
                columns=(
                    Column("device_id", "uuid"),
                    Column("day", "date"),
                    Column("ts", "timestamp"),
                    Column("checkin_id", "uuid"),
                    Column("payload", "text"),
                    Column("received_at", "timestamp"),
                ),
                partition_key=("device_id", "day"),
                clustering=(ClusteringColumn("ts", "DESC"), ClusteringColumn("checkin_id", "ASC")),
                default_ttl_seconds=ttl,
                purpose="a device's check-ins of one UTC day, newest first",
            ),
            Table(
                name=DAY_PARTITIONS,
                columns=(
                    Column("day", "date"),
                    Column("shard", "smallint"),
                    Column("device_id", "uuid"),
                ),
                partition_key=("day", "shard"),
                clustering=(ClusteringColumn("device_id", "ASC"),),
                default_ttl_seconds=ttl,
                purpose="per-day index of device partitions, sharded",
            ),
            Table(
                name=ACTIVE_DAYS,
                columns=(Column("bucket", "text"), Column("day", "date")),
                partition_key=("bucket",),
                clustering=(ClusteringColumn("day", "ASC"),),
                purpose="the days that still have data, for the cleanup job",
            ),
            Table(
                name=CLEANUP_LEASES,
                columns=(
                    Column("day", "date"),
                    Column("owner", "uuid"),
                    Column("expires_at", "timestamp"),
                ),
                partition_key=("day",),
                purpose="the cleanup job's per-day lease, taken with lightweight transactions",
            ),
        ),
    )


def shard_for(device_id: uuid.UUID) -> int:
    """The `day_partitions` shard of a device: stable, and spread evenly by the UUID's bits."""
    return device_id.int % DAY_INDEX_SHARDS


def day_of(ts: datetime) -> date:
    """The partition day of a timestamp: its UTC date (naive timestamps are taken as UTC)."""
    if ts.tzinfo is None:
        return ts.date()
    return ts.astimezone(UTC).date()
