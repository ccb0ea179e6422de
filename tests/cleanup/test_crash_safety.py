"""Kill the job at each step, run it again: every row archived exactly once, none left behind.

The kill is a BaseException raised from the job's step probe: like SIGKILL it skips the job's
``except Exception`` handlers, so no abort or clean-up code runs; only what reached Cassandra
and S3 before that point survives, which is all a real kill leaves too. The killed runs use
one worker so nothing else is in flight when the kill lands; the reruns use the default pool.
"""

from __future__ import annotations

import base64
import datetime as dt
import random

import pytest

from tests.cleanup.conftest import BUCKET, TODAY, device_ids
from tests.cleanup.helpers import Killed, archive_objects, archived_rows, kill_at, make_checkins

OLD_DAYS = [TODAY - dt.timedelta(days=d) for d in (40, 33)]
RECENT_DAY = TODAY - dt.timedelta(days=2)


def _seed(seeder, seed: int):
    rng = random.Random(seed)
    devices = device_ids(3, seed)
    old = make_checkins(rng, OLD_DAYS, devices, (12, 40))
    recent = make_checkins(rng, [RECENT_DAY], devices, 5)
    seeder.write(old + recent)
    return old, recent


def _assert_clean(seeder, s3, old, recent) -> None:
    archived = archived_rows(s3, BUCKET)
    assert len(archived) == len(set(archived)), "a row is archived twice"
    assert archived == sorted(old)
    assert seeder.table_rows() == sorted(recent)
    for day in OLD_DAYS:
        assert seeder.index_entries(day) == set()
    assert seeder.active_days() == {RECENT_DAY}
    objects = archive_objects(s3, BUCKET)
    assert len(objects) == len({(r.day, r.device_id) for r in old})
    for day in OLD_DAYS:
        key = f"manifests/checkins/dt={day.isoformat()}/manifest.json"
        assert s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"] > 0


CRASH_POINTS = [
    pytest.param("page-read", 2, id="mid-write"),
    pytest.param("uploaded", 1, id="after-upload"),
    pytest.param("uploaded", 4, id="after-upload-second-day"),
    pytest.param("verified", 1, id="after-verify"),
    pytest.param("verified", 5, id="after-verify-later"),
    pytest.param("partition-deleted", 1, id="mid-delete"),
    pytest.param("partition-deleted", 4, id="mid-delete-second-day"),
    pytest.param("index-deleted", 2, id="mid-index-update"),
    pytest.param("index-deleted", 3, id="index-update-end-of-day"),
    pytest.param("manifest-written", 1, id="after-manifest"),
    pytest.param("day-deleted", 1, id="after-first-day"),
]


@pytest.mark.parametrize(("step", "occurrence"), CRASH_POINTS)
def test_kill_then_rerun_loses_and_duplicates_nothing(seeder, run_job, s3, step, occurrence):
    old, recent = _seed(seeder, seed=occurrence * 7 + len(step))
    probe = kill_at(step, occurrence)
    with pytest.raises(Killed):
        run_job(probe=probe, fetch_size=10, concurrency=1)
    assert probe.fired()
    # Nothing deleted that is not in the archive, even right after the kill.
    remaining = set(seeder.table_rows())
    archived = set(archived_rows(s3, BUCKET))
    assert set(old) <= remaining | archived

    keys_after_kill = archive_objects(s3, BUCKET)
    summary = run_job(fetch_size=10)
    assert not summary.failed
    _assert_clean(seeder, s3, old, recent)
    # Same partition -> same key, same bytes: what the killed run stored is kept as it was.
    final = archive_objects(s3, BUCKET)
    for key, data in keys_after_kill.items():
        assert final.get(key) == data


def test_kill_at_every_step_in_turn(seeder, run_job, s3):
    old, recent = _seed(seeder, seed=99)
    for step in ("page-read", "uploaded", "verified", "partition-deleted", "index-deleted"):
        with pytest.raises(Killed):
            run_job(probe=kill_at(step, 2), fetch_size=10, concurrency=1)
    run_job(fetch_size=10)
    _assert_clean(seeder, s3, old, recent)


def test_kill_mid_multipart_upload(seeder, run_job, s3):
    """A partition bigger than one part goes up in parts; kill after the first part."""
    rng = random.Random(5)
    device = device_ids(1, 5)[0]
    rows = make_checkins(rng, OLD_DAYS[:1], [device], 7000)
    # Incompressible payloads so the object spans two 5 MiB parts.
    rows = [
        r.__class__(
            r.device_id,
            r.day,
            r.ts_ms,
            r.checkin_id,
            base64.b64encode(rng.randbytes(900)).decode(),
            r.received_ms,
        )
        for r in rows
    ]
    seeder.write(rows, concurrency=128)
    part = 5 * 1024 * 1024

    with pytest.raises(Killed):
        run_job(probe=kill_at("part-uploaded", 1), fetch_size=1000, part_size=part, concurrency=1)
    assert archive_objects(s3, BUCKET) == {}
    assert len(s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])) == 1
    assert len(seeder.table_rows()) == len(rows)

    summary = run_job(fetch_size=1000, part_size=part)
    assert summary.partitions_archived == 1 and not summary.failed
    assert archived_rows(s3, BUCKET) == sorted(rows)
    assert seeder.table_rows() == []
    (key,) = archive_objects(s3, BUCKET)
    head = s3.head_object(Bucket=BUCKET, Key=key, ChecksumMode="ENABLED")
    assert head["ContentLength"] > part  # really a multipart object
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
