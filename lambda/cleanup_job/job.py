"""The cleanup run: for each old day, archive -> verify -> delete, partition by partition.

Order per partition (each step only after the previous one succeeded):

1. stream the partition's rows (paged) into a gzip JSON Lines spool, hashing as it goes;
2. upload it under a key derived from the content hash (skipped when an earlier run already
   stored exactly these bytes), SSE-KMS, SHA-256 checksum;
3. verify the stored object: HEAD (size, checksum, row count and hashes in metadata,
   encryption) and, by default, a full read-back;
4. delete the partition, then its ``day_partitions`` index entry.

When a day's index is empty: write the day manifest, then delete the ``active_days`` row.
A run killed anywhere repeats at most the unfinished partition on the next run, producing the
same bytes under the same key, so the archive never loses or duplicates a row.

Runs that overlap (a retried schedule, an operator next to the schedule) never work on the same
day at once: a run takes the day's lease (:mod:`cleanup_job.lease`) before touching the day and
checks it after every read and before every upload, delete and manifest; a day leased by
another run is skipped (``day-leased``) and left to that run.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from enum import Enum

from cleanup_job import keys
from cleanup_job.config import CleanupSettings
from cleanup_job.lease import Clock, DayLease, LeaseTable, utc_now
from cleanup_job.report import Reporter, RunSummary
from cleanup_job.s3store import ArchiveStore
from cleanup_job.serialize import encode_rows
from cleanup_job.source import CheckinsSource, PartitionRef
from cleanup_job.spool import PartitionSpool

# Test seam: called after each step with the step name; production passes nothing.
Probe = Callable[[str, object], None]


def _no_probe(step: str, subject: object) -> None:
    return None


class Deadline:
    """Lambda time budget: stop starting work when less than ``margin`` seconds remain."""

    def __init__(self, remaining_ms: Callable[[], int] | None, margin_seconds: float) -> None:
        self._remaining_ms = remaining_ms
        self._margin_ms = margin_seconds * 1000

    @classmethod
    def from_context(cls, context: object, margin_seconds: float) -> Deadline:
        getter = getattr(context, "get_remaining_time_in_millis", None)
        return cls(getter if callable(getter) else None, margin_seconds)

    def reached(self) -> bool:
        return self._remaining_ms is not None and self._remaining_ms() < self._margin_ms


class _OutOfTime(Exception):
    """Raised inside a partition when the deadline is reached; the partition is untouched."""


class Outcome(Enum):
    ARCHIVED = "archived"
    EMPTY = "empty"  # indexed but no rows left (e.g. deleted by a run killed before the index)
    WOULD_ARCHIVE = "would-archive"
    FAILED = "failed"
    DEFERRED = "deferred"


@dataclass(frozen=True)
class PartitionResult:
    outcome: Outcome
    rows: int = 0
    size: int = 0
    key: str | None = None


class CleanupJob:
    def __init__(
        self,
        settings: CleanupSettings,
        source: CheckinsSource,
        store: ArchiveStore,
        reporter: Reporter,
        leases: LeaseTable | None = None,
        probe: Probe | None = None,
        clock: Clock | None = None,
    ) -> None:
        if leases is None and not settings.dry_run:
            raise ValueError("a run that deletes needs the lease table")
        self._settings = settings
        self._source = source
        self._store = store
        self._report = reporter
        self._leases = leases
        self._probe = probe or _no_probe
        self._clock = clock or utc_now
        self.run_id = uuid.uuid4()

    def run(self, today: dt.date, deadline: Deadline | None = None) -> RunSummary:
        started = time.monotonic()
        deadline = deadline or Deadline(None, 0)
        cutoff = today - dt.timedelta(days=self._settings.retention_days)
        summary = RunSummary(dry_run=self._settings.dry_run, cutoff=cutoff.isoformat())
        try:
            days = self._source.days_before(cutoff)
        except Exception as exc:  # nothing touched yet; report and fail the run
            self._fail(summary, "days", None, exc)
            days = []
        summary.days_pending = len(days)
        self._report.event(
            "run-started",
            cutoff=cutoff,
            days=len(days),
            dry_run=summary.dry_run,
            run_id=self.run_id,
        )
        for day in days:
            if deadline.reached():
                summary.stopped_for_time = True
                break
            self._run_day(day, deadline, summary)
            if summary.stopped_for_time:
                break
        summary.duration_seconds = time.monotonic() - started
        self._report.event("run-finished", **summary.as_dict())
        self._report.metrics(summary)
        return summary

    def _fail(
        self, summary: RunSummary, step: str, subject: object | None, exc: BaseException
    ) -> None:
        failure = {"step": step, "subject": str(subject), "error": f"{type(exc).__name__}: {exc}"}
        summary.failures.append(failure)
        self._report.event(f"{step}-failed", **failure)

    def _run_day(self, day: dt.date, deadline: Deadline, summary: RunSummary) -> None:
        if self._settings.dry_run:  # reads only: no lease, nothing written anywhere
            self._run_leased_day(day, None, deadline, summary)
            return
        assert self._leases is not None
        lease = DayLease(self._leases, day, self.run_id, self._settings.lease_seconds, self._clock)
        try:
            held = lease.take()
        except Exception as exc:  # unknown whether taken: it expires; the day waits for it
            self._fail(summary, "lease", day, exc)
            return
        if held is not None:
            summary.days_leased += 1
            self._report.event("day-leased", day=day, holder=held[0], expires_at=held[1])
            return
        self._probe("lease-taken", day)
        # Every failure inside is caught there: only a kill skips the release, and then the
        # lease expires after lease_seconds.
        self._run_leased_day(day, lease, deadline, summary)
        try:
            lease.release()
        except Exception as exc:  # the lease expires on its own; report, keep going
            self._report.event("lease-not-released", day=day, error=f"{type(exc).__name__}: {exc}")

    def _run_leased_day(
        self, day: dt.date, lease: DayLease | None, deadline: Deadline, summary: RunSummary
    ) -> None:
        workers = self._settings.concurrency
        day_ok = True

        def account(result: PartitionResult) -> None:
            nonlocal day_ok
            outcome = result.outcome
            if outcome is Outcome.ARCHIVED:
                summary.partitions_archived += 1
                summary.rows_archived += result.rows
                summary.bytes_archived += result.size
            elif outcome is Outcome.DEFERRED:
                summary.partitions_deferred += 1
                summary.stopped_for_time = True
            elif outcome is Outcome.FAILED:
                summary.partitions_failed += 1
                day_ok = False
            elif outcome is Outcome.EMPTY:
                summary.partitions_emptied += 1
            elif outcome is Outcome.WOULD_ARCHIVE:
                summary.partitions_planned += 1
                summary.rows_planned += result.rows

        try:
            if workers == 1:
                for ref in self._source.partitions(day):
                    if deadline.reached():
                        summary.stopped_for_time = True
                    if summary.stopped_for_time:
                        return
                    account(self._run_partition(ref, lease, deadline, summary))
                    if lease is not None and lease.lost:
                        day_ok = False
                        break
            else:
                # Partitions are independent: overlapping their Cassandra and S3 round trips
                # is where the throughput comes from. Accounting stays on this thread.
                with ThreadPoolExecutor(workers, thread_name_prefix="partition") as pool:
                    running: set[Future[PartitionResult]] = set()
                    for ref in self._source.partitions(day):
                        if deadline.reached():
                            summary.stopped_for_time = True
                        if summary.stopped_for_time:
                            break
                        if lease is not None and lease.lost:
                            day_ok = False
                            break
                        running.add(pool.submit(self._run_partition, ref, lease, deadline, summary))
                        if len(running) >= 2 * workers:
                            done, running = wait(running, return_when=FIRST_COMPLETED)
                            for future in done:
                                account(future.result())
                    for future in running:
                        account(future.result())
                if summary.stopped_for_time:
                    return
        except Exception as exc:  # listing the index failed: leave the day for the next run
            self._fail(summary, "day", day, exc)
            return
        if not day_ok or self._settings.dry_run:
            return
        try:
            if lease is not None:
                lease.ensure()
            if self._source.day_is_indexed(day):
                # Rows indexed while this run was listing: the next run takes them.
                return
            manifest, objects, size = self._store.write_manifest(day)
            self._probe("manifest-written", day)
            if lease is not None:
                lease.ensure()
            self._source.delete_day(day)
            self._probe("day-deleted", day)
        except Exception as exc:
            self._fail(summary, "day", day, exc)
            return
        summary.days_completed += 1
        self._report.event("day-completed", day=day, manifest=manifest, objects=objects, bytes=size)

    def _run_partition(
        self, ref: PartitionRef, lease: DayLease | None, deadline: Deadline, summary: RunSummary
    ) -> PartitionResult:
        settings = self._settings
        try:
            with PartitionSpool(settings.spool_dir) as spool:
                for page in self._source.read(ref):
                    if deadline.reached():
                        raise _OutOfTime
                    data, count = encode_rows(page.columns, page.rows)
                    spool.write(data, count)
                    self._probe("page-read", ref)
                digest = spool.finish()
                if lease is not None:
                    # Held throughout the read: no other run deleted rows under it.
                    lease.ensure()
                if digest.rows == 0:
                    return self._clear_empty(ref)
                key = keys.object_key(
                    settings.archive_prefix, ref.day, ref.device_id, digest.content_sha256
                )
                if settings.dry_run:
                    self._report.event(
                        "partition-would-archive",
                        day=ref.day,
                        device_id=ref.device_id,
                        key=key,
                        rows=digest.rows,
                        bytes=digest.size,
                    )
                    return PartitionResult(Outcome.WOULD_ARCHIVE, digest.rows, digest.size, key)
                checksum = self._store.expected_checksum(spool)
                reused = self._store.already_stored(key, digest, checksum)
                if not reused:
                    self._store.upload(
                        key,
                        spool,
                        ref.day,
                        str(ref.device_id),
                        on_part=lambda _n: self._probe("part-uploaded", ref),
                    )
                self._probe("uploaded", ref)
                self._store.verify(key, digest, checksum)
                self._probe("verified", ref)
            # Only now, with the archive verified, is anything deleted.
            if lease is not None:
                lease.ensure()
            self._source.delete_partition(ref)
            self._probe("partition-deleted", ref)
            self._source.delete_index_entry(ref)
            self._probe("index-deleted", ref)
        except _OutOfTime:
            self._report.event("partition-deferred", day=ref.day, device_id=ref.device_id)
            return PartitionResult(Outcome.DEFERRED)
        except Exception as exc:
            self._fail(summary, "partition", f"{ref.day}/{ref.device_id}", exc)
            return PartitionResult(Outcome.FAILED)
        self._report.event(
            "partition-archived",
            day=ref.day,
            device_id=ref.device_id,
            key=key,
            rows=digest.rows,
            bytes=digest.size,
            sha256=digest.sha256,
            reused=reused,
        )
        return PartitionResult(Outcome.ARCHIVED, digest.rows, digest.size, key)

    def _clear_empty(self, ref: PartitionRef) -> PartitionResult:
        """Index entry without rows: the rows were archived and deleted by an earlier run."""
        if not self._settings.dry_run:
            self._source.delete_index_entry(ref)
            self._probe("index-deleted", ref)
        self._report.event(
            "partition-empty", day=ref.day, device_id=ref.device_id, dry_run=self._settings.dry_run
        )
        return PartitionResult(Outcome.EMPTY)
