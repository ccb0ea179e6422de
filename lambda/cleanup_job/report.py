"""What the job tells the world: one JSON log line per event, one EMF metrics line per run.

Lambda ships stdout to CloudWatch Logs; a line carrying the ``_aws`` block of the Embedded
Metric Format becomes CloudWatch metrics without any API call or extra dependency.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, TextIO

# Metric name -> CloudWatch unit. Keep in sync with the README and the alarms.
METRICS: dict[str, str] = {
    "RowsArchived": "Count",
    "BytesArchived": "Bytes",
    "PartitionsArchived": "Count",
    "PartitionsFailed": "Count",
    "PartitionsDeferred": "Count",
    "DaysCompleted": "Count",
    "DaysPending": "Count",
    "RunFailed": "Count",
    "DurationSeconds": "Seconds",
}


@dataclass
class RunSummary:
    dry_run: bool
    cutoff: str
    days_pending: int = 0
    days_completed: int = 0
    days_leased: int = 0
    """Days skipped because another run held their lease."""
    partitions_archived: int = 0
    partitions_emptied: int = 0
    partitions_failed: int = 0
    partitions_deferred: int = 0
    partitions_planned: int = 0
    """Dry run: partitions that would have been archived."""
    rows_planned: int = 0
    rows_archived: int = 0
    bytes_archived: int = 0
    stopped_for_time: bool = False
    duration_seconds: float = 0.0
    failures: list[dict[str, str]] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.failures)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Reporter:
    def __init__(
        self,
        namespace: str,
        environment: str,
        stream: TextIO | None = None,
    ) -> None:
        self._namespace = namespace
        self._environment = environment
        self._stream = stream
        self._lock = threading.Lock()

    def _write(self, record: dict[str, Any]) -> None:
        stream = self._stream or sys.stdout
        line = json.dumps(record, sort_keys=True, default=str) + "\n"
        with self._lock:  # partitions report from worker threads
            stream.write(line)
            stream.flush()

    def event(self, event: str, **fields: Any) -> None:
        level = "ERROR" if event.endswith("failed") else "INFO"
        self._write({"level": level, "event": event, **fields})

    def metrics(self, summary: RunSummary) -> None:
        values = {
            "RowsArchived": summary.rows_archived,
            "BytesArchived": summary.bytes_archived,
            "PartitionsArchived": summary.partitions_archived,
            "PartitionsFailed": summary.partitions_failed,
            "PartitionsDeferred": summary.partitions_deferred,
            "DaysCompleted": summary.days_completed,
            "DaysPending": summary.days_pending,
            "RunFailed": 1 if summary.failed else 0,
            "DurationSeconds": round(summary.duration_seconds, 3),
        }
        self._write(
            {
                "_aws": {
                    "Timestamp": int(time.time() * 1000),
                    "CloudWatchMetrics": [
                        {
                            "Namespace": self._namespace,
                            "Dimensions": [["Environment"]],
                            "Metrics": [{"Name": n, "Unit": u} for n, u in METRICS.items()],
                        }
                    ],
                },
                "Environment": self._environment,
                "DryRun": summary.dry_run,
                "event": "metrics",
                **values,
            }
        )
