"""Object key layout (Hive-style partitions, so Athena/Glue can prune by day and device).

    <archive_prefix>/dt=YYYY-MM-DD/device=<uuid>/part-<sha256 of the JSON Lines>.jsonl.gz
    <manifest_prefix>/dt=YYYY-MM-DD/manifest.json

The file name is the hash of the uncompressed content: the same partition gives the same key on
every rerun, and rows written to a partition after it was archived land in a new object instead
of overwriting the archived one.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid

_KEY_RE = re.compile(
    r"dt=(?P<day>\d{4}-\d{2}-\d{2})/device=(?P<device>[0-9a-f-]{36})/"
    r"part-(?P<sha>[0-9a-f]{64})\.jsonl\.gz$"
)


def day_prefix(archive_prefix: str, day: dt.date) -> str:
    return f"{archive_prefix}/dt={day.isoformat()}/"


def object_key(archive_prefix: str, day: dt.date, device_id: uuid.UUID, content_sha256: str) -> str:
    return f"{day_prefix(archive_prefix, day)}device={device_id}/part-{content_sha256}.jsonl.gz"


def manifest_key(manifest_prefix: str, day: dt.date) -> str:
    return f"{manifest_prefix}/dt={day.isoformat()}/manifest.json"


def parse_object_key(key: str) -> tuple[dt.date, uuid.UUID, str] | None:
    """(day, device, content hash) of an archive key, ``None`` for anything else."""
    match = _KEY_RE.search(key)
    if match is None:
        return None
    return (
        dt.date.fromisoformat(match["day"]),
        uuid.UUID(match["device"]),
        match["sha"],
    )
