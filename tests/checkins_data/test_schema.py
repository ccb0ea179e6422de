"""The data model: its rules, its CQL on a real node, and the access paths it serves."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from checkins_data.schema import (
    ACTIVE_DAYS,
    ACTIVE_DAYS_BUCKET,
    CHECKINS_BY_DEVICE_DAY,
    CLEANUP_LEASES,
    DAY_INDEX_SHARDS,
    DAY_PARTITIONS,
    DEVICES,
    DEVICES_BY_OWNER,
    MAX_BATCH_STATEMENTS,
    ClusteringColumn,
    Column,
    Table,
    build_schema,
    day_of,
    shard_for,
)

from devtools.cassandra_keyspaces import create_test_keyspace

# ---- rules of the model (no node needed) ----


def test_schema_has_the_six_agreed_tables_and_keys():
    schema = build_schema()
    keys = {
        t.name: (t.partition_key, tuple((c.name, c.order) for c in t.clustering))
        for t in schema.tables
    }
    assert keys == {
        DEVICES: (("device_id",), ()),
        DEVICES_BY_OWNER: (("owner_id",), (("device_id", "ASC"),)),
        CHECKINS_BY_DEVICE_DAY: (("device_id", "day"), (("ts", "DESC"), ("checkin_id", "ASC"))),
        DAY_PARTITIONS: (("day", "shard"), (("device_id", "ASC"),)),
        ACTIVE_DAYS: (("bucket",), (("day", "ASC"),)),
        CLEANUP_LEASES: (("day",), ()),
    }


def test_safety_ttl_applies_to_the_day_based_tables_only():
    schema = build_schema(safety_ttl_days=30)
    ttls = {t.name: t.default_ttl_seconds for t in schema.tables}
    assert ttls == {
        DEVICES: None,
        DEVICES_BY_OWNER: None,
        CHECKINS_BY_DEVICE_DAY: 30 * 86_400,
        DAY_PARTITIONS: 30 * 86_400,
        ACTIVE_DAYS: None,
        CLEANUP_LEASES: None,
    }
    assert build_schema().table(CHECKINS_BY_DEVICE_DAY).default_ttl_seconds == 400 * 86_400


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"partition_key": ()}, "needs a partition key"),
        ({"partition_key": ("nope",)}, "are not columns"),
        ({"clustering": (ClusteringColumn("a"),)}, "appears twice"),
        ({"default_ttl_seconds": 0}, "default TTL"),
        ({"name": "Bad-Name"}, "table name"),
    ],
)
def test_invalid_table_definitions_are_refused(kwargs, message):
    base = {
        "name": "t",
        "columns": (Column("a", "uuid"), Column("b", "text")),
        "partition_key": ("a",),
    }
    with pytest.raises(ValueError, match=message):
        Table(**{**base, **kwargs})


def test_unsupported_cql_types_and_bad_keyspace_names_are_refused():
    with pytest.raises(ValueError, match="unsupported CQL type"):
        Column("a", "counter")
    with pytest.raises(ValueError, match="keyspace name"):
        build_schema("x; DROP KEYSPACE y")
    with pytest.raises(ValueError, match="safety_ttl_days"):
        build_schema(safety_ttl_days=0)


def test_shard_is_stable_within_range_and_spreads_devices():
    ids = [uuid.UUID(int=i * 7919 + 13) for i in range(4000)] + [uuid.uuid4() for _ in range(4000)]
    shards = [shard_for(d) for d in ids]
    assert all(0 <= s < DAY_INDEX_SHARDS for s in shards)
    assert [shard_for(d) for d in ids] == shards
    counts = [shards.count(s) for s in range(DAY_INDEX_SHARDS)]
    assert min(counts) > len(ids) / DAY_INDEX_SHARDS / 2


def test_day_is_the_utc_date_of_the_timestamp():
    late_evening_new_york = datetime(2026, 3, 1, 22, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert day_of(late_evening_new_york) == date(2026, 3, 2)
    early_morning_tokyo = datetime(2026, 3, 1, 2, 0, tzinfo=timezone(timedelta(hours=9)))
    assert day_of(early_morning_tokyo) == date(2026, 2, 28)
    assert day_of(datetime(2026, 3, 1, 23, 59)) == date(2026, 3, 1)


def test_insert_cql_binds_every_column_in_order():
    table = build_schema().table(DAY_PARTITIONS)
    assert (
        table.insert_cql("ks")
        == "INSERT INTO ks.day_partitions (day, shard, device_id) VALUES (?, ?, ?)"
    )


# ---- the CQL on a real node ----


def test_created_tables_match_the_model_on_a_real_node(cassandra_cluster, cassandra_keyspace):
    schema = build_schema(cassandra_keyspace)
    meta = cassandra_cluster.metadata.keyspaces[cassandra_keyspace]
    for table in schema.tables:
        live = meta.tables[table.name]
        assert {n: c.cql_type for n, c in live.columns.items()} == {
            c.name: c.cql_type for c in table.columns
        }
        assert [c.name for c in live.partition_key] == list(table.partition_key)
        assert [c.name for c in live.clustering_key] == [c.name for c in table.clustering]
        assert ["DESC" if c.is_reversed else "ASC" for c in live.clustering_key] == [
            c.order for c in table.clustering
        ]
        assert live.options["default_time_to_live"] == (table.default_ttl_seconds or 0)
        assert not live.indexes and not live.views


def test_schema_creation_is_idempotent(cassandra_cluster, cassandra_session, cassandra_keyspace):
    def table_ids():
        rows = cassandra_session.execute(
            "SELECT table_name, id FROM system_schema.tables WHERE keyspace_name = %s",
            (cassandra_keyspace,),
        )
        return {r.table_name: r.id for r in rows}

    device = uuid.uuid4()
    cassandra_session.execute(
        "INSERT INTO devices (device_id, owner_id) VALUES (%s, 'o')", (device,)
    )
    before = table_ids()
    assert len(before) == len(build_schema().tables)
    again = create_test_keyspace(cassandra_cluster.connect(), cassandra_keyspace)
    assert again == cassandra_keyspace
    # Same tables, not recreated (a new id would mean the data was dropped).
    assert table_ids() == before
    row = cassandra_session.execute(
        "SELECT owner_id FROM devices WHERE device_id = %s", (device,)
    ).one()
    assert row.owner_id == "o"


# ---- the access paths, round trips on a real node ----


def _prepare_insert(session, table_name, *, idempotent=True):
    stmt = session.prepare(
        build_schema(session.keyspace).table(table_name).insert_cql(session.keyspace)
    )
    stmt.is_idempotent = idempotent
    return stmt


def test_device_ownership_and_listing_by_owner(cassandra_session):
    s = cassandra_session
    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    mine = sorted(uuid.uuid4() for _ in range(3))
    other = uuid.uuid4()
    ins_dev = _prepare_insert(s, DEVICES)
    ins_own = _prepare_insert(s, DEVICES_BY_OWNER)
    for d in mine:
        s.execute(ins_dev, (d, "alice", f"phone-{d.hex[:4]}", "ios", now))
        s.execute(ins_own, ("alice", d, f"phone-{d.hex[:4]}", "ios", now))
    s.execute(ins_dev, (other, "bob", "tablet", "android", now))
    s.execute(ins_own, ("bob", other, "tablet", "android", now))

    owner = s.execute("SELECT owner_id FROM devices WHERE device_id = %s", (other,)).one()
    assert owner.owner_id == "bob"
    listed = [
        r.device_id
        for r in s.execute("SELECT device_id FROM devices_by_owner WHERE owner_id = 'alice'")
    ]
    assert listed == mine  # clustered by device_id ASC


def test_checkins_read_back_newest_first_and_retries_do_not_duplicate(cassandra_session):
    s = cassandra_session
    device = uuid.uuid4()
    base = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
    ins = _prepare_insert(s, CHECKINS_BY_DEVICE_DAY)
    rows = [
        (device, day_of(base), base + timedelta(minutes=i), uuid.uuid4(), f'{{"i": {i}}}', base)
        for i in range(5)
    ]
    for r in rows:
        s.execute(ins, r)
    # A retried request rewrites the same key: still five rows.
    s.execute(ins, rows[2])
    got = list(
        s.execute(
            "SELECT ts, checkin_id, payload FROM checkins_by_device_day WHERE device_id = %s AND day = %s",
            (device, day_of(base).isoformat()),
        )
    )
    assert [r.checkin_id for r in got] == [r[3] for r in reversed(rows)]
    assert got[0].payload == '{"i": 4}'
    # Paging from a cursor position: strictly older than a given ts.
    older = list(
        s.execute(
            "SELECT checkin_id FROM checkins_by_device_day WHERE device_id = %s AND day = %s AND ts < %s LIMIT 2",
            (device, day_of(base).isoformat(), rows[3][2]),
        )
    )
    assert [r.checkin_id for r in older] == [rows[2][3], rows[1][3]]


def test_checkins_expire_with_the_safety_ttl(cassandra_session):
    s = cassandra_session
    device = uuid.uuid4()
    ts = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
    s.execute(
        _prepare_insert(s, CHECKINS_BY_DEVICE_DAY), (device, day_of(ts), ts, uuid.uuid4(), "{}", ts)
    )
    row = s.execute(
        "SELECT TTL(payload) AS ttl FROM checkins_by_device_day WHERE device_id = %s AND day = %s",
        (device, day_of(ts).isoformat()),
    ).one()
    assert 400 * 86_400 - 60 < row.ttl <= 400 * 86_400


def test_cleanup_finds_old_days_and_their_partitions_without_scans(cassandra_session):
    s = cassandra_session
    days = [date(2026, 1, d) for d in (3, 1, 2, 20)]
    devices = [uuid.uuid4() for _ in range(40)]
    ins_day = _prepare_insert(s, ACTIVE_DAYS)
    ins_part = _prepare_insert(s, DAY_PARTITIONS)
    from cassandra.query import BatchStatement, BatchType

    for day in days:
        s.execute(ins_day, (ACTIVE_DAYS_BUCKET, day))
        batch = BatchStatement(batch_type=BatchType.UNLOGGED)
        for d in devices[:MAX_BATCH_STATEMENTS]:
            batch.add(ins_part, (day, shard_for(d), d))
        s.execute(batch)
        for d in devices[MAX_BATCH_STATEMENTS:]:
            s.execute(ins_part, (day, shard_for(d), d))

    old = [
        r.day
        for r in s.execute(
            "SELECT day FROM active_days WHERE bucket = %s AND day < %s",
            (ACTIVE_DAYS_BUCKET, "2026-01-10"),
        )
    ]
    assert [d.date() for d in old] == [
        date(2026, 1, 1),
        date(2026, 1, 2),
        date(2026, 1, 3),
    ]
    by_shard = s.prepare("SELECT device_id FROM day_partitions WHERE day = ? AND shard = ?")
    found = {
        r.device_id
        for shard in range(DAY_INDEX_SHARDS)
        for r in s.execute(by_shard, (date(2026, 1, 2), shard))
    }
    assert found == set(devices)
