"""Several cleanup runs at once over the same days: every row archived exactly once, none lost.

Each run has its own Cassandra session and its own S3 client, as separate Lambda invocations or
an operator's command next to the schedule would. The first test forces the interleaving that
used to produce a truncated second copy (one run reading a partition while another deletes it);
the second lets four runs race freely with small pages and random pauses.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import random
import threading
import time
from collections import Counter
from typing import Any

import pytest

from tests.cleanup.conftest import BUCKET, TODAY, device_ids, make_settings
from tests.cleanup.helpers import archive_objects, archived_rows, make_checkins

OLD_DAYS = [TODAY - dt.timedelta(days=d) for d in (50, 41, 35)]
RECENT_DAY = TODAY - dt.timedelta(days=3)
# Generous bound on how long one run may block another; never reached when the code is right.
WAIT_S = 120


class Job(threading.Thread):
    """One cleanup run in its own thread, with its own session, S3 client and log."""

    def __init__(self, name: str, cluster: Any, keyspace: str, probe: Any = None, **overrides):
        super().__init__(name=name, daemon=True)
        self.cluster = cluster
        self.keyspace = keyspace
        self.probe = probe
        self.overrides = overrides
        self.output = io.StringIO()
        self.summary = None
        self.error: BaseException | None = None
        self.start_gate: threading.Barrier | None = None

    def run(self) -> None:
        from cleanup_job.handler import run_once
        from cleanup_job.report import Reporter
        from cleanup_job.s3store import make_s3_client

        settings = make_settings(**self.overrides)
        session = self.cluster.connect(self.keyspace)
        try:
            s3 = make_s3_client(settings)
            reporter = Reporter(settings.metric_namespace, settings.environment, self.output)
            if self.start_gate is not None:
                self.start_gate.wait(WAIT_S)
            self.summary = run_once(
                {},
                None,
                settings=settings,
                session=session,
                keyspace=self.keyspace,
                s3_client=s3,
                today=TODAY,
                reporter=reporter,
                probe=self.probe,
            )
        except BaseException as exc:  # reported by the test thread
            self.error = exc
        finally:
            session.shutdown()

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.output.getvalue().splitlines()]


def _seed(seeder, seed: int, devices: int, per_partition):
    rng = random.Random(seed)
    ids = device_ids(devices, seed)
    old = make_checkins(rng, OLD_DAYS, ids, per_partition)
    recent = make_checkins(rng, [RECENT_DAY], ids, 4)
    seeder.write(old + recent)
    return old, recent


def _assert_archived_exactly_once(seeder, s3, old, recent, jobs: list[Job]) -> None:
    for job in jobs:
        assert job.error is None, f"{job.name}: {job.error!r}"
        assert not job.summary.failed, job.summary.failures
    archived = archived_rows(s3, BUCKET)
    twice = [row for row, n in Counter(archived).items() if n > 1]
    assert twice == [], f"{len(twice)} rows archived more than once"
    assert archived == sorted(old), "rows missing from the archive"
    assert seeder.table_rows() == sorted(recent)
    assert seeder.active_days() == {RECENT_DAY}
    # One object per partition, and each day's manifest names exactly the day's objects.
    objects = archive_objects(s3, BUCKET)
    assert len(objects) == len({(r.day, r.device_id) for r in old})
    for day in OLD_DAYS:
        key = f"manifests/checkins/dt={day.isoformat()}/manifest.json"
        manifest = json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
        listed = [o["key"] for o in manifest["objects"]]
        assert sorted(listed) == sorted(k for k in objects if f"/dt={day.isoformat()}/" in k)


def _run(jobs: list[Job]) -> None:
    for job in jobs:
        job.join(WAIT_S * 2)
        assert not job.is_alive(), f"{job.name} did not finish"


def test_a_run_reading_a_partition_while_another_run_archives_it(seeder, s3, cassandra_cluster):
    """Run A stops after the first page of its first partition; run B then runs to the end.

    Before the fix B archived and deleted that partition under A's feet and A, resuming, stored
    the one page it had read as a second (truncated) object of the same rows.
    """
    old, recent = _seed(seeder, seed=1, devices=3, per_partition=(25, 40))
    a_paused = threading.Event()
    b_done = threading.Event()

    def pause_a(step: str, subject: object) -> None:
        if step == "page-read" and not a_paused.is_set():
            a_paused.set()
            b_done.wait(WAIT_S)

    ks = seeder.keyspace
    a = Job("run-a", cassandra_cluster, ks, probe=pause_a, fetch_size=10, concurrency=1)
    b = Job("run-b", cassandra_cluster, ks, fetch_size=10)
    a.start()
    assert a_paused.wait(WAIT_S), "run A never read a page"
    b.start()
    b.join(WAIT_S)
    b_done.set()
    _run([a, b])
    _assert_archived_exactly_once(seeder, s3, old, recent, [a, b])


@pytest.mark.parametrize("seed", [11, 12])
def test_four_runs_started_at_once(seeder, s3, cassandra_cluster, seed):
    old, recent = _seed(seeder, seed=seed, devices=5, per_partition=(15, 45))
    gate = threading.Barrier(4)
    jobs = []
    for n in range(4):
        rng = random.Random(seed * 10 + n)
        lock = threading.Lock()

        def jitter(step: str, subject: object, rng=rng, lock=lock) -> None:
            # Short random pauses shuffle the runs' steps against each other.
            if step in ("page-read", "uploaded", "verified"):
                with lock:
                    pause = rng.random() * 0.004
                time.sleep(pause)

        job = Job(
            f"run-{n}",
            cassandra_cluster,
            seeder.keyspace,
            probe=jitter,
            fetch_size=10,
            concurrency=1 + n % 3,
        )
        job.start_gate = gate
        jobs.append(job)
    for job in jobs:
        job.start()
    _run(jobs)
    _assert_archived_exactly_once(seeder, s3, old, recent, jobs)


class MovableClock:
    def __init__(self) -> None:
        self.offset = dt.timedelta()

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset


def _leases(session) -> list[Any]:
    return list(session.execute(f"SELECT day, owner FROM {session.keyspace}.cleanup_leases"))


def test_a_killed_runs_day_waits_for_its_lease_to_expire(seeder, run_job, s3):
    from tests.cleanup.helpers import Killed, kill_at

    old, recent = _seed(seeder, seed=5, devices=2, per_partition=(12, 20))
    clock = MovableClock()
    with pytest.raises(Killed):
        run_job(probe=kill_at("uploaded", 1), clock=clock, fetch_size=10, concurrency=1)
    assert len(_leases(seeder.session)) == 1  # a kill releases nothing
    before = seeder.table_rows()

    # Another run within the lease: the killed run's day is left alone, the others are done.
    clock.offset = dt.timedelta(seconds=200)
    summary = run_job(clock=clock, fetch_size=10)
    assert summary.days_leased == 1 and not summary.failed
    leased = [e for e in run_job.events() if e["event"] == "day-leased"]
    assert [e["day"] for e in leased] == [OLD_DAYS[0].isoformat()]
    assert {r for r in before if r.day == OLD_DAYS[0]} <= set(seeder.table_rows())

    # Past the lease: the next run takes the day over and finishes it, nothing twice.
    clock.offset = dt.timedelta(seconds=301)
    summary = run_job(clock=clock, fetch_size=10)
    assert summary.days_leased == 0 and not summary.failed
    archived = archived_rows(s3, BUCKET)
    assert archived == sorted(old) and len(set(archived)) == len(archived)
    assert seeder.table_rows() == sorted(recent)
    assert _leases(seeder.session) == []  # every finished run released its days


def test_a_run_whose_lease_was_taken_over_touches_nothing_more(seeder, run_job, s3):
    """The lease is taken over while the run verifies its first object: it must not delete."""
    import uuid

    old, _recent = _seed(seeder, seed=6, devices=2, per_partition=(12, 20))
    clock = MovableClock()
    thief = uuid.uuid4()
    ks = seeder.keyspace

    def take_over(step: str, subject: object) -> None:
        if step == "verified" and clock.offset == dt.timedelta():
            seeder.session.execute(
                f"UPDATE {ks}.cleanup_leases SET owner = %s WHERE day = %s",
                (thief, OLD_DAYS[0]),
            )
            clock.offset = dt.timedelta(seconds=150)  # time to renew

    from cleanup_job.handler import CleanupFailed

    before = seeder.table_rows()
    with pytest.raises(CleanupFailed, match="LeaseLost") as failed:
        run_job(probe=take_over, clock=clock, fetch_size=10, concurrency=1)
    summary = failed.value.summary
    assert [f["error"].split(":")[0] for f in summary.failures] == ["LeaseLost"]
    archived = archived_rows(s3, BUCKET)
    assert len(set(archived)) == len(archived)
    assert [r for r in archived if r.day != OLD_DAYS[0]] == sorted(
        r for r in old if r.day != OLD_DAYS[0]
    )
    # Nothing of the stolen day was deleted, and its lease is the new holder's.
    assert {r for r in before if r.day == OLD_DAYS[0]} <= set(seeder.table_rows())
    assert OLD_DAYS[0] in seeder.active_days()
    assert [row.owner for row in _leases(seeder.session) if row.day.date() == OLD_DAYS[0]] == [
        thief
    ]
