"""AWS Lambda entry point: ``cleanup_job.handler.handler``.

The connection and clients are built once per execution environment and reused by warm
invocations. A run with any failed partition raises at the end, after the summary and metrics
were written, so Lambda counts an error and the retry/DLQ and the alarms fire.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from checkins_data.connection import KeyspacesSettings, connect
from pydantic import BaseModel, ConfigDict

from cleanup_job.config import CleanupSettings
from cleanup_job.job import CleanupJob, Deadline
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
) -> RunSummary:
    """One run with explicit dependencies (the handler's body; tests call it directly)."""
    request = CleanupEvent.model_validate(event or {})
    if request.dry_run and not settings.dry_run:
        settings = settings.model_copy(update={"dry_run": True})
    reporter = reporter or Reporter(settings.metric_namespace, settings.environment)
    job = CleanupJob(
        settings,
        CheckinsSource(session, keyspace, settings.fetch_size),
        ArchiveStore(s3_client, settings),
        reporter,
        probe=probe,
    )
    summary = job.run(
        today or dt.datetime.now(dt.UTC).date(),
        Deadline.from_context(context, settings.time_margin_seconds),
    )
    if summary.failed:
        raise CleanupFailed(summary)
    return summary


def handler(event: dict[str, Any] | None, context: object) -> dict[str, Any]:
    settings = CleanupSettings()
    keyspaces = KeyspacesSettings()
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
