"""Archive -> verify -> delete on a real Cassandra and moto S3."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import random
import re

from tests.cleanup.conftest import BUCKET, KMS_KEY, TODAY, device_ids
from tests.cleanup.helpers import archive_objects, archived_rows, make_checkins

OLD_DAYS = [TODAY - dt.timedelta(days=d) for d in (45, 31)]
RECENT_DAYS = [TODAY - dt.timedelta(days=d) for d in (30, 1)]
KEY_RE = re.compile(
    r"^checkins/dt=(\d{4}-\d{2}-\d{2})/device=([0-9a-f-]{36})/part-([0-9a-f]{64})\.jsonl\.gz$"
)


def test_archives_old_days_exactly_once_and_deletes_them(seeder, run_job, s3):
    rng = random.Random(1)
    devices = device_ids(5)
    old = make_checkins(rng, OLD_DAYS, devices, (1, 120))
    recent = make_checkins(rng, RECENT_DAYS, devices, (1, 20))
    seeder.write(old + recent)

    summary = run_job()

    assert archived_rows(s3, BUCKET) == sorted(old)
    assert seeder.table_rows() == sorted(recent)
    for day in OLD_DAYS:
        assert seeder.index_entries(day) == set()
    for day in RECENT_DAYS:
        assert seeder.index_entries(day) == set(devices)
    assert seeder.active_days() == set(RECENT_DAYS)
    assert summary.days_completed == 2
    assert summary.partitions_archived == 10
    assert summary.rows_archived == len(old)
    assert not summary.failed


def test_object_layout_encryption_checksum_and_metadata(seeder, run_job, s3):
    rng = random.Random(2)
    devices = device_ids(2)
    rows = make_checkins(rng, OLD_DAYS[:1], devices, 30)
    seeder.write(rows)
    run_job()

    objects = archive_objects(s3, BUCKET)
    assert len(objects) == 2
    for key, data in objects.items():
        match = KEY_RE.match(key)
        assert match, key
        day, device, content_sha = match.groups()
        head = s3.head_object(Bucket=BUCKET, Key=key, ChecksumMode="ENABLED")
        assert head["ServerSideEncryption"] == "aws:kms"
        assert head["SSEKMSKeyId"] == KMS_KEY
        assert head["ChecksumSHA256"]
        lines = gzip.decompress(data).splitlines()
        assert head["Metadata"]["rows"] == str(len(lines)) == "30"
        assert head["Metadata"]["content-sha256"] == content_sha
        records = [json.loads(line) for line in lines]
        assert {r["device_id"] for r in records} == {device}
        assert {r["day"] for r in records} == {day}
        # Clustering order of the table: newest first.
        stamps = [r["ts"] for r in records]
        assert stamps == sorted(stamps, reverse=True)
        assert list(records[0]) == sorted(records[0])  # deterministic key order


def test_day_manifest_lists_every_object(seeder, run_job, s3):
    rng = random.Random(3)
    devices = device_ids(3)
    seeder.write(make_checkins(rng, OLD_DAYS, devices, 5))
    run_job()

    for day in OLD_DAYS:
        key = f"manifests/checkins/dt={day.isoformat()}/manifest.json"
        manifest = json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
        listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"checkins/dt={day.isoformat()}/")
        assert manifest["day"] == day.isoformat()
        assert sorted(o["key"] for o in manifest["objects"]) == sorted(
            o["Key"] for o in listed["Contents"]
        )
        assert {o["device_id"] for o in manifest["objects"]} == {str(d) for d in devices}
        assert manifest["bytes"] == sum(o["Size"] for o in listed["Contents"])


def test_structured_log_and_emf_metrics(seeder, run_job):
    rng = random.Random(4)
    rows = make_checkins(rng, OLD_DAYS[:1], device_ids(2), 7)
    seeder.write(rows)
    run_job()

    events = run_job.events()
    archived = [e for e in events if e["event"] == "partition-archived"]
    assert len(archived) == 2
    assert all(e["rows"] == 7 and e["key"].startswith("checkins/dt=") for e in archived)
    finished = next(e for e in events if e["event"] == "run-finished")
    assert finished["rows_archived"] == 14 and finished["days_completed"] == 1
    metrics = next(e for e in events if "_aws" in e)
    directive = metrics["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "Checkins/Cleanup"
    assert directive["Dimensions"] == [["Environment"]]
    names = {m["Name"] for m in directive["Metrics"]}
    assert {"RowsArchived", "PartitionsFailed", "RunFailed", "DaysPending"} <= names
    assert all(name in metrics for name in names)
    assert metrics["RowsArchived"] == 14
    assert metrics["RunFailed"] == 0
    assert metrics["Environment"] == "test"


def test_nothing_old_means_nothing_touched(seeder, run_job, s3):
    rng = random.Random(5)
    rows = make_checkins(rng, RECENT_DAYS, device_ids(2), 3)
    seeder.write(rows)
    summary = run_job()
    assert summary.days_pending == 0
    assert archive_objects(s3, BUCKET) == {}
    assert seeder.table_rows() == sorted(rows)


def test_second_run_is_a_no_op(seeder, run_job, s3):
    rng = random.Random(6)
    seeder.write(make_checkins(rng, OLD_DAYS, device_ids(2), 4))
    run_job()
    before = archive_objects(s3, BUCKET)
    again = run_job()
    assert again.days_pending == 0 and again.partitions_archived == 0
    assert archive_objects(s3, BUCKET) == before
