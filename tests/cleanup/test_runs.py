"""Resume before the Lambda timeout, dry-run, the handler entry point and the restore command."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import random

import pytest
from cleanup_job import handler as handler_module
from cleanup_job.handler import CleanupFailed
from cleanup_job.restore import main as restore_main
from cleanup_job.restore import restore_day

from tests.cleanup.conftest import BUCKET, KMS_KEY, TODAY, device_ids, make_settings
from tests.cleanup.helpers import FakeLambdaContext, archive_objects, archived_rows, make_checkins

OLD_DAYS = [TODAY - dt.timedelta(days=d) for d in (60, 45)]


def _seed(seeder, devices: int = 3, per_partition=(5, 25), seed: int = 0):
    rng = random.Random(seed)
    rows = make_checkins(rng, OLD_DAYS, device_ids(devices, seed), per_partition)
    seeder.write(rows)
    return rows


def test_stops_before_the_timeout_and_resumes(seeder, run_job, s3):
    rows = _seed(seeder, devices=4)
    # Each look at the clock costs 1 s of the budget; the margin is 5 s.
    first = run_job(context=FakeLambdaContext(remaining_ms=14_000, step_ms=1_000))
    assert first.stopped_for_time and not first.failed
    assert 0 < first.partitions_archived < 8
    done = archived_rows(s3, BUCKET)
    assert set(done) < set(rows)
    assert set(seeder.table_rows()) == set(rows) - set(done)

    second = run_job(context=FakeLambdaContext(remaining_ms=900_000))
    assert not second.stopped_for_time
    archived = archived_rows(s3, BUCKET)
    assert archived == sorted(rows) and len(set(archived)) == len(archived)
    assert seeder.table_rows() == []
    assert seeder.active_days() == set()


def test_deadline_inside_a_partition_leaves_it_untouched(seeder, run_job, s3):
    rows = _seed(seeder, devices=1, per_partition=50)
    # Clock reads: day, partition, pages 1..5 (fetch size 10); the 6th read is past the margin.
    summary = run_job(
        context=FakeLambdaContext(remaining_ms=9_000, step_ms=1_000), fetch_size=10, concurrency=1
    )
    assert summary.partitions_deferred == 1 and summary.partitions_archived == 0
    assert archive_objects(s3, BUCKET) == {}
    assert seeder.table_rows() == sorted(rows)
    deferred = [e for e in run_job.events() if e["event"] == "partition-deferred"]
    assert len(deferred) == 1

    run_job(fetch_size=10)
    assert archived_rows(s3, BUCKET) == sorted(rows)


@pytest.mark.parametrize("how", ["setting", "event"])
def test_dry_run_lists_what_it_would_do_and_changes_nothing(seeder, run_job, s3, how):
    rows = _seed(seeder)
    kwargs = {"dry_run": True} if how == "setting" else {"event": {"dry_run": True}}
    summary = run_job(**kwargs)

    assert summary.dry_run
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0
    assert seeder.table_rows() == sorted(rows)
    assert seeder.active_days() == set(OLD_DAYS)
    planned = [e for e in run_job.events() if e["event"] == "partition-would-archive"]
    assert len(planned) == summary.partitions_planned == 6
    assert sum(e["rows"] for e in planned) == summary.rows_planned == len(rows)
    assert summary.rows_archived == 0 and summary.days_completed == 0

    # The real run stores exactly the keys the dry run announced.
    run_job()
    assert set(archive_objects(s3, BUCKET)) == {e["key"] for e in planned}


def test_handler_reads_its_configuration_from_the_environment(
    seeder, s3, cassandra_node, monkeypatch
):
    today = dt.datetime.now(dt.UTC).date()
    rng = random.Random(8)
    old = make_checkins(rng, [today - dt.timedelta(days=20)], device_ids(2, 8), 6)
    recent = make_checkins(rng, [today - dt.timedelta(days=3)], device_ids(2, 8), 6)
    seeder.write(old + recent)
    env = {
        "KEYSPACES_CONTACT_POINTS": ",".join(cassandra_node.contact_points),
        "KEYSPACES_PORT": str(cassandra_node.port),
        "KEYSPACES_LOCAL_DC": cassandra_node.local_dc,
        "KEYSPACES_KEYSPACE": seeder.keyspace,
        "KEYSPACES_REQUEST_TIMEOUT_S": "30",
        "CLEANUP_ARCHIVE_BUCKET": BUCKET,
        "CLEANUP_KMS_KEY_ID": KMS_KEY,
        "CLEANUP_RETENTION_DAYS": "14",
        "CLEANUP_APP_MAX_AGE_DAYS": "7",
        "CLEANUP_S3_REGION": "eu-west-1",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(handler_module, "_resources", {})
    try:
        result = handler_module.handler({"source": "aws.events"}, FakeLambdaContext(600_000))
        assert result["rows_archived"] == len(old) and result["failures"] == []
        assert archived_rows(s3, BUCKET) == sorted(old)
        assert seeder.table_rows() == sorted(recent)

        # A failing run raises (Lambda error -> retries, DLQ, alarms) after reporting.
        seeder.write(old)
        monkeypatch.setenv("CLEANUP_ARCHIVE_BUCKET", "no-such-archive-bucket")
        with pytest.raises(CleanupFailed, match="NoSuchBucket"):
            handler_module.handler({}, FakeLambdaContext(600_000))
        assert set(old) <= set(seeder.table_rows())
    finally:
        resources = handler_module._resources
        if "cluster" in resources:
            resources["cluster"].shutdown()


def test_bad_event_is_refused():
    from cleanup_job.handler import CleanupEvent
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        CleanupEvent.model_validate({"dry_run": "perhaps"})


def test_restore_puts_a_day_back_and_rearchiving_gives_the_same_objects(seeder, run_job, s3):
    rows = _seed(seeder, seed=3)
    run_job()
    before = archive_objects(s3, BUCKET)
    assert seeder.table_rows() == []

    day = OLD_DAYS[0]
    out = io.StringIO()
    summary = restore_day(make_settings(), seeder.session, seeder.keyspace, s3, day, out=out)
    assert summary["errors"] == []
    wanted = sorted(r for r in rows if r.day == day)
    assert summary["rows"] == len(wanted)
    assert seeder.table_rows() == wanted
    assert seeder.index_entries(day) == {r.device_id for r in wanted}
    assert seeder.active_days() == {day}

    # Archiving the restored day again: same rows -> same keys and bytes, nothing new.
    again = run_job()
    assert again.partitions_archived == 3 and not again.failed
    assert archive_objects(s3, BUCKET) == before
    assert seeder.table_rows() == []


def test_restore_command_reports_a_corrupted_object(
    seeder, run_job, s3, cassandra_node, monkeypatch, capsys
):
    rows = _seed(seeder, seed=4)
    run_job()
    day = OLD_DAYS[1]
    keys = sorted(k for k in archive_objects(s3, BUCKET) if f"dt={day.isoformat()}" in k)
    head = s3.head_object(Bucket=BUCKET, Key=keys[0])
    s3.put_object(Bucket=BUCKET, Key=keys[0], Body=gzip.compress(b""), Metadata=head["Metadata"])
    for name, value in {
        "CLEANUP_ARCHIVE_BUCKET": BUCKET,
        "CLEANUP_S3_REGION": "eu-west-1",
        "KEYSPACES_KEYSPACE": seeder.keyspace,
        "KEYSPACES_CONTACT_POINTS": ",".join(cassandra_node.contact_points),
        "KEYSPACES_PORT": str(cassandra_node.port),
        "KEYSPACES_LOCAL_DC": cassandra_node.local_dc,
    }.items():
        monkeypatch.setenv(name, value)

    assert restore_main(["--day", day.isoformat()]) == 1
    finished = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert finished["objects"] == 2 and len(finished["errors"]) == 1
    assert keys[0] in finished["errors"][0]
    restored = {r.device_id for r in seeder.table_rows()}
    assert len(restored) == 2
    assert restored < {r.device_id for r in rows}
