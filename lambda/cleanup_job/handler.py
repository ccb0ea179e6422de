"""AWS Lambda entry point: ``cleanup_job.handler.handler``.

The connection and clients are built once per execution environment and reused by warm
invocations. A run with any failed partition raises at the end, after the summary and metrics
were written, so Lambda counts an error and the retry/DLQ and the alarms fire. Bad settings
raise :class:`~cleanup_job.config.ConfigError` (one line) before anything is touched.

``python -m cleanup_job`` (:mod:`cleanup_job.__main__`) runs the same :func:`run_once`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from checkins_data.connection import KeyspacesSettings, connect
from pydantic import BaseModel, ConfigDict

from cleanup_job.config import (
    CleanupSettings,
    check_job_settings,
    load_keyspaces,
    load_settings,
)
from cleanup_job.job import CleanupJob, Deadline
from cleanup_job.lease import Clock, LeaseTable
from cleanup_job.report import Reporter, RunSummary
from cleanup_job.s3store import ArchiveStore, make_s3_client
from cleanup_job.source import CheckinsSource


class CleanupFailed(RuntimeError):
    """Some partitions or days could not be archived; they were left untouched."""

    def __init__(self, summary: RunSummary) -> None:
        self.summary = summary
        first = summary.failures[0]
        super().__init__(
            f"{len(summary.failures)} failure(s), first: {first['step']} {first['subject']}: "
            f"{first['error']}"
        )


class CleanupEvent(BaseModel):
    """The invocation payload. The EventBridge schedule sends its own fields, ignored here;
    a manual invocation may ask for a dry run with ``{"dry_run": true}``."""

    model_config = ConfigDict(extra="ignore")

    dry_run: bool = False


_resources: dict[str, Any] = {}


def configure(environ: Any = None) -> tuple[CleanupSettings, KeyspacesSettings]:
    """Both settings objects from the environment, or :class:`ConfigError` with one line."""
    import os

    environ = os.environ if environ is None else environ
    settings = load_settings(environ)
    check_job_settings(settings)
    return settings, load_keyspaces(environ)


def _connected(keyspaces: KeyspacesSettings, settings: CleanupSettings) -> tuple[Any, Any]:
    """(Cassandra session, S3 client), created on the first invocation only."""
    if "session" not in _resources:
        _resources["cluster"], _resources["session"] = connect(keyspaces)
        _resources["s3"] = make_s3_client(settings)
    return _resources["session"], _resources["s3"]


def run_once(
    event: dict[str, Any] | None,
    context: object,
    *,
    settings: CleanupSettings,
    session: Any,
    keyspace: str,
    s3_client: Any,
    today: dt.date | None = None,
    reporter: Reporter | None = None,
    probe: Any = None,
    clock: Clock | None = None,
) -> RunSummary:
    """One run with explicit dependencies (the handler's body; tests call it directly)."""
    check_job_settings(settings)
    request = CleanupEvent.model_validate(event or {})
    if request.dry_run and not settings.dry_run:
        settings = settings.model_copy(update={"dry_run": True})
    reporter = reporter or Reporter(settings.metric_namespace, settings.environment)
    job = CleanupJob(
        settings,
        CheckinsSource(session, keyspace, settings.fetch_size),
        ArchiveStore(s3_client, settings),
        reporter,
        leases=None if settings.dry_run else LeaseTable(session, keyspace),
        probe=probe,
        clock=clock,
    )
    summary = job.run(
        today or dt.datetime.now(dt.UTC).date(),
        Deadline.from_context(context, settings.time_margin_seconds),
    )
    if summary.failed:
        raise CleanupFailed(summary)
    return summary


def handler(event: dict[str, Any] | None, context: object) -> dict[str, Any]:
    settings, keyspaces = configure()
    session, s3_client = _connected(keyspaces, settings)
    summary = run_once(
        event,
        context,
        settings=settings,
        session=session,
        keyspace=keyspaces.keyspace,
        s3_client=s3_client,
    )
    return summary.as_dict()
