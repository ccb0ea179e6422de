"""Property: whatever the data, the retention and where the runs are killed, once a run
completes the archive holds every old row exactly once and the table holds no old row."""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import uuid

from checkins_data import schema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.cleanup.conftest import BUCKET, TODAY, Runner, wipe_keyspace
from tests.cleanup.helpers import Checkin, Killed, Seeder, archived_rows, kill_at

STEPS = (
    "page-read",
    "uploaded",
    "verified",
    "partition-deleted",
    "index-deleted",
    "manifest-written",
    "day-deleted",
)
EPOCH = dt.datetime(1970, 1, 1)

# Cassandra text is UTF-8: any code point but the surrogates.
payloads = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
partition = st.tuples(
    st.integers(0, 2),  # device
    st.integers(0, 9),  # days before "today"
    st.lists(payloads, max_size=14),  # the rows (an empty list: index entry, no rows)
)
crash = st.tuples(st.sampled_from(STEPS), st.integers(1, 4))


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    partitions=st.lists(partition, min_size=1, max_size=6, unique_by=lambda p: (p[0], p[1])),
    retention=st.integers(2, 7),
    crashes=st.lists(crash, max_size=3),
    seed=st.integers(0, 2**32 - 1),
    workers=st.sampled_from([1, 3]),
)
def test_any_data_any_crashes(module_session, s3, partitions, retention, crashes, seed, workers):
    wipe_keyspace(module_session)
    bucket = f"prop-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    seeder = Seeder(module_session, module_session.keyspace)
    rng = random.Random(seed)
    devices = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(3)]
    rows: list[Checkin] = []
    for device_no, days_back, texts in partitions:
        device, day = devices[device_no], TODAY - dt.timedelta(days=days_back)
        start = (dt.datetime.combine(day, dt.time()) - EPOCH) // dt.timedelta(milliseconds=1)
        for text in texts:
            ts = start + rng.randrange(86_400_000)
            received = None if rng.random() < 0.3 else ts + rng.randrange(10_000)
            rows.append(
                Checkin(device, day, ts, uuid.UUID(int=rng.getrandbits(128)), text, received)
            )
        if not texts:  # the app wrote the index entry, then failed before the row
            seeder.session.execute(
                f"INSERT INTO {seeder.keyspace}.day_partitions (day, shard, device_id) "
                "VALUES (%s, %s, %s)",
                (day, schema.shard_for(device), device),
            )
            seeder.session.execute(
                f"INSERT INTO {seeder.keyspace}.active_days (bucket, day) VALUES (%s, %s)",
                (schema.ACTIVE_DAYS_BUCKET, day),
            )
    seeder.write(rows)

    run = Runner(module_session, module_session.keyspace, s3)
    for step, occurrence in crashes:
        with contextlib.suppress(Killed):
            run(
                probe=kill_at(step, occurrence),
                retention_days=retention,
                archive_bucket=bucket,
                fetch_size=10,
                concurrency=workers,
            )
    summary = run(
        retention_days=retention, archive_bucket=bucket, fetch_size=10, concurrency=workers
    )

    cutoff = TODAY - dt.timedelta(days=retention)
    old = sorted(r for r in rows if r.day < cutoff)
    archived = archived_rows(s3, bucket)
    assert archived == old
    assert len(set(archived)) == len(archived)
    assert seeder.table_rows() == sorted(r for r in rows if r.day >= cutoff)
    seeded_days = {TODAY - dt.timedelta(days=p[1]) for p in partitions}
    assert seeder.active_days() == {d for d in seeded_days if d >= cutoff}
    for day in seeded_days:
        if day < cutoff:
            assert seeder.index_entries(day) == set()
    assert not summary.failed
    assert bucket != BUCKET
