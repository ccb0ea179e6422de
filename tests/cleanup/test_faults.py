"""Bad input and faults: the partition is left untouched and reported, the run goes on with
the next one and ends with an error (so Lambda's retry/DLQ and the alarms fire)."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cassandra import ConsistencyLevel, ReadTimeout, WriteTimeout
from cleanup_job.handler import CleanupFailed

from tests.cleanup.conftest import BUCKET, TODAY, Runner, device_ids
from tests.cleanup.helpers import Seeder, archive_objects, archived_rows, make_checkins

OLD_DAY = TODAY - dt.timedelta(days=50)


def _seed(seeder, n_devices: int = 3, seed: int = 0):
    rng = random.Random(seed)
    devices = device_ids(n_devices, seed)
    rows = make_checkins(rng, [OLD_DAY], devices, 8)
    seeder.write(rows)
    return devices, rows


def _rows_of(rows, device):
    return sorted(r for r in rows if r.device_id == device)


def _failure_raised(run, **kwargs) -> Any:
    with pytest.raises(CleanupFailed) as caught:
        run(**kwargs)
    return caught.value.summary


def test_unserialisable_row_leaves_its_partition_untouched(cassandra_session, s3):
    """A column added to the table later is archived too (SELECT *); a value the archive
    format cannot hold (NaN has no JSON form) makes the job refuse the whole partition."""
    seeder = Seeder(cassandra_session, cassandra_session.keyspace)
    devices, rows = _seed(seeder)
    bad = devices[0]
    seeder.session.execute(
        f"ALTER TABLE {seeder.keyspace}.checkins_by_device_day ADD battery_voltage double"
    )
    seeder.session.execute(
        f"UPDATE {seeder.keyspace}.checkins_by_device_day SET battery_voltage = NaN "
        "WHERE device_id = %s AND day = %s AND ts = %s AND checkin_id = %s",
        (bad, OLD_DAY, _rows_of(rows, bad)[0].ts, _rows_of(rows, bad)[0].checkin_id),
    )
    run_job = Runner(seeder.session, seeder.keyspace, s3)

    summary = _failure_raised(run_job)

    assert summary.partitions_failed == 1 and summary.partitions_archived == 2
    assert str(bad) in summary.failures[0]["subject"]
    assert "UnserialisableRow" in summary.failures[0]["error"]
    good = sorted(r for r in rows if r.device_id != bad)
    assert archived_rows(s3, BUCKET) == good
    assert not any(f"device={bad}" in key for key in archive_objects(s3, BUCKET))
    # The bad partition keeps every row, its index entry and its day.
    assert seeder.table_rows() == _rows_of(rows, bad)
    assert seeder.index_entries(OLD_DAY) == {bad}
    assert OLD_DAY in seeder.active_days()
    failed = [e for e in run_job.events() if e["event"] == "partition-failed"]
    assert failed and failed[0]["level"] == "ERROR"
    metrics = next(e for e in run_job.events() if "_aws" in e)
    assert metrics["PartitionsFailed"] == 1 and metrics["RunFailed"] == 1

    # Still refused on the next run, and nothing archived twice meanwhile.
    _failure_raised(run_job)
    assert archived_rows(s3, BUCKET) == good


def test_missing_bucket_deletes_nothing(seeder, run_job, s3):
    _, rows = _seed(seeder)
    summary = _failure_raised(run_job, archive_bucket="no-such-archive-bucket")
    assert summary.partitions_failed == 3 and summary.partitions_archived == 0
    assert "NoSuchBucket" in summary.failures[0]["error"]
    assert seeder.table_rows() == sorted(rows)


def test_s3_error_on_one_partition_spares_it_and_archives_the_rest(seeder, run_job, s3):
    devices, rows = _seed(seeder)
    refused = devices[1]

    def slow_down(params: dict[str, Any], **_: Any) -> None:
        if f"device={refused}" in params.get("Key", ""):
            raise ClientError(
                {"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}},
                "PutObject",
            )

    s3.meta.events.register("provide-client-params.s3.PutObject", slow_down)
    try:
        summary = _failure_raised(run_job)
    finally:
        s3.meta.events.unregister("provide-client-params.s3.PutObject", slow_down)

    assert summary.partitions_failed == 1 and "SlowDown" in summary.failures[0]["error"]
    assert seeder.table_rows() == _rows_of(rows, refused)
    assert archived_rows(s3, BUCKET) == sorted(r for r in rows if r.device_id != refused)
    # Next run (S3 healthy again) finishes the job.
    assert not run_job().failed
    assert archived_rows(s3, BUCKET) == sorted(rows)
    assert seeder.table_rows() == []


def test_object_changed_after_upload_fails_verification(seeder, run_job, s3):
    devices, rows = _seed(seeder, n_devices=2)

    def tamper(step: str, ref: Any) -> None:
        if step == "uploaded" and ref.device_id == devices[0]:
            (key,) = [k for k in archive_objects(s3, BUCKET) if f"device={devices[0]}" in k]
            head = s3.head_object(Bucket=BUCKET, Key=key)
            s3.put_object(
                Bucket=BUCKET,
                Key=key,
                Body=b"not the archive",
                Metadata=head["Metadata"],
                ServerSideEncryption="aws:kms",
            )

    summary = _failure_raised(run_job, probe=tamper)
    assert "VerificationFailed" in summary.failures[0]["error"]
    assert seeder.table_rows() == _rows_of(rows, devices[0])

    # The next run sees the stored object is not the archive, rewrites it, verifies, deletes.
    assert not run_job().failed
    assert archived_rows(s3, BUCKET) == sorted(rows)
    assert seeder.table_rows() == []


class FlakySession:
    """The real session, except that chosen statements raise the driver's timeout errors."""

    def __init__(self, real: Any, fail: Any) -> None:
        self._real = real
        self._fail = fail

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def execute(self, statement: Any, parameters: Any = None, *args: Any, **kwargs: Any) -> Any:
        error = self._fail(statement, parameters)
        if error is not None:
            raise error
        return self._real.execute(statement, parameters, *args, **kwargs)

    def execute_async(
        self, statement: Any, parameters: Any = None, *args: Any, **kwargs: Any
    ) -> Any:
        error = self._fail(statement, parameters)
        if error is not None:
            raise error
        return self._real.execute_async(statement, parameters, *args, **kwargs)


def test_throttled_read_and_write_timeout(seeder, s3):
    devices, rows = _seed(seeder)
    throttled, slow_delete = devices[0], devices[1]

    def fail(statement: Any, parameters: Any) -> Exception | None:
        query = getattr(getattr(statement, "prepared_statement", statement), "query_string", "")
        values = getattr(statement, "values", None) or []
        if query.startswith("SELECT *") and values and values[0] == throttled.bytes:
            return ReadTimeout(
                "Operation timed out - received only 0 responses.",
                consistency=ConsistencyLevel.LOCAL_QUORUM,
                required_responses=2,
                received_responses=0,
                data_retrieved=False,
            )
        if (
            query.startswith("DELETE FROM")
            and "checkins_by_device_day" in query
            and parameters
            and parameters[0] == slow_delete
        ):
            return WriteTimeout(
                "Operation timed out - received only 0 responses.",
                consistency=ConsistencyLevel.LOCAL_QUORUM,
                required_responses=2,
                received_responses=0,
                write_type=0,
            )
        return None

    flaky = Runner(FlakySession(seeder.session, fail), seeder.keyspace, s3)
    summary = _failure_raised(flaky)
    assert summary.partitions_failed == 2 and summary.partitions_archived == 1
    assert {"ReadTimeout", "WriteTimeout"} == {f["error"].split(":")[0] for f in summary.failures}
    assert seeder.table_rows() == sorted(_rows_of(rows, throttled) + _rows_of(rows, slow_delete))
    assert seeder.index_entries(OLD_DAY) == {throttled, slow_delete}
    # The slow delete's archive was verified before the delete was tried: it is kept.
    assert archived_rows(s3, BUCKET) == sorted(r for r in rows if r.device_id != throttled)

    healthy = Runner(seeder.session, seeder.keyspace, s3)
    assert not healthy().failed
    archived = archived_rows(s3, BUCKET)
    assert archived == sorted(rows) and len(set(archived)) == len(archived)
    assert seeder.table_rows() == []
    assert OLD_DAY not in seeder.active_days()
