"""Fixtures of the cleanup job tests: S3 emulated by moto in-process (``mock_aws``), the real
Cassandra from the shared harness, and a runner that calls the handler's body."""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.cleanup.helpers import Seeder

S3_DESCRIPTION = "S3: moto in-process (moto.mock_aws), no network"
BUCKET = "checkins-archive-test"
KMS_KEY = "arn:aws:kms:eu-west-1:123456789012:key/0b7c6f5e-4a52-4c8b-9f55-1d1a5f1e2c3d"
TODAY = dt.date(2026, 3, 10)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.write_line(f"cleanup tests: {S3_DESCRIPTION}")


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")


@pytest.fixture
def moto_s3(aws_env: None) -> Iterator[None]:
    from moto import mock_aws

    with mock_aws():
        yield


def make_settings(**overrides: Any):
    from cleanup_job.config import CleanupSettings

    values: dict[str, Any] = {
        "archive_bucket": BUCKET,
        "kms_key_id": KMS_KEY,
        "retention_days": 30,
        "app_max_age_days": 1,
        "s3_region": "eu-west-1",
        "fetch_size": 50,
        "time_margin_seconds": 5,
        "environment": "test",
    }
    values.update(overrides)
    return CleanupSettings(**values)


@pytest.fixture
def s3(moto_s3: None) -> Any:
    from cleanup_job.s3store import make_s3_client

    client = make_s3_client(make_settings())
    client.create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    return client


@pytest.fixture(scope="module")
def module_session(cassandra_cluster: Any) -> Iterator[Any]:
    """One keyspace per test module (creating one costs seconds on a busy node)."""
    from devtools.cassandra_keyspaces import create_test_keyspace, drop_test_keyspace

    admin = cassandra_cluster.connect()
    name = create_test_keyspace(admin)
    session = cassandra_cluster.connect(name)
    try:
        yield session
    finally:
        session.shutdown()
        drop_test_keyspace(admin, name)
        admin.shutdown()


def wipe_keyspace(session: Any) -> None:
    """Delete every row the tests wrote (test-only full scans of a tiny keyspace)."""
    ks = session.keyspace
    for row in session.execute(f"SELECT DISTINCT device_id, day FROM {ks}.checkins_by_device_day"):
        session.execute(
            f"DELETE FROM {ks}.checkins_by_device_day WHERE device_id = %s AND day = %s",
            (row.device_id, row.day),
        )
    for row in session.execute(f"SELECT DISTINCT day, shard FROM {ks}.day_partitions"):
        session.execute(
            f"DELETE FROM {ks}.day_partitions WHERE day = %s AND shard = %s", (row.day, row.shard)
        )
    session.execute(f"DELETE FROM {ks}.active_days WHERE bucket = 'checkins'")
    for row in session.execute(f"SELECT day FROM {ks}.cleanup_leases"):
        session.execute(f"DELETE FROM {ks}.cleanup_leases WHERE day = %s", (row.day,))


@pytest.fixture
def cassandra_ks(module_session: Any) -> Iterator[Any]:
    """The module's keyspace, emptied after each test."""
    wipe_keyspace(module_session)
    try:
        yield module_session
    finally:
        wipe_keyspace(module_session)


@pytest.fixture
def seeder(cassandra_ks: Any) -> Seeder:
    return Seeder(cassandra_ks, cassandra_ks.keyspace)


class Runner:
    """Runs the job the way the handler does, with captured JSON output.

    Each run's clock is an hour past the previous run's, as the next scheduled run would be:
    the day leases a killed run left behind (``lease_seconds`` <= 15 min) have expired by then.
    """

    RUN_INTERVAL = dt.timedelta(hours=1)

    def __init__(self, session: Any, keyspace: str, s3: Any) -> None:
        self.session = session
        self.keyspace = keyspace
        self.s3 = s3
        self.output = io.StringIO()
        self.runs = 0

    def __call__(
        self,
        *,
        context: object = None,
        event: dict[str, Any] | None = None,
        probe: Any = None,
        today: dt.date = TODAY,
        clock: Any = None,
        **overrides: Any,
    ):
        from cleanup_job.handler import run_once
        from cleanup_job.report import Reporter

        settings = make_settings(**overrides)
        reporter = Reporter(settings.metric_namespace, settings.environment, stream=self.output)
        if clock is None:
            offset = self.runs * self.RUN_INTERVAL
            clock = lambda: dt.datetime.now(dt.UTC) + offset  # noqa: E731
        self.runs += 1
        return run_once(
            event,
            context,
            settings=settings,
            session=self.session,
            keyspace=self.keyspace,
            s3_client=self.s3,
            today=today,
            reporter=reporter,
            probe=probe,
            clock=clock,
        )

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.output.getvalue().splitlines()]


@pytest.fixture
def run_job(cassandra_ks: Any, s3: Any) -> Runner:
    return Runner(cassandra_ks, cassandra_ks.keyspace, s3)


def device_ids(n: int, seed: int = 0) -> list[uuid.UUID]:
    import random

    rng = random.Random(seed)
    return [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(n)]
