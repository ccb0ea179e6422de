"""Re-insert an archived day into the check-ins table.

    python -m cleanup_job.restore --day 2026-01-31 [--device <uuid>] [--dry-run]

Reads the same ``CLEANUP_*`` and ``KEYSPACES_*`` settings as the job. For every archive object
of the day (listed from S3 and cross-checked against the day manifest when there is one) it
writes the ``active_days`` and ``day_partitions`` rows first, then streams the object and
re-inserts its rows, in the main app's write order. Inserts are idempotent (the full primary
key is in the archive), so a restore can be repeated. Each object's SHA-256 and row count are
checked against its metadata; a mismatch is reported and makes the command exit non-zero.

Restored rows carry the table's default TTL again, and a later cleanup run re-archives them to
the same key with the same bytes (no duplicate in the archive) unless the retention is raised.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import sys
import uuid
import zlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from cassandra.concurrent import execute_concurrent_with_args
from checkins_data import schema
from checkins_data.connection import connect

from cleanup_job.config import CleanupSettings, ConfigError, load_keyspaces, load_settings
from cleanup_job.s3store import ArchiveStore, ManifestEntry, make_s3_client
from cleanup_job.serialize import parse_timestamp

_CHUNK = 1024 * 1024
_BATCH_ROWS = 500


class RestoreError(RuntimeError):
    """An archive object does not match its recorded checksum or row count."""


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "uuid": uuid.UUID,
    "timestamp": parse_timestamp,
    "date": dt.date.fromisoformat,
    "text": str,
    "smallint": int,
    "int": int,
    "bigint": int,
    "boolean": bool,
}


def _lines(body: Any, sha: Any) -> Iterator[bytes]:
    """Inflate a gzip stream chunk by chunk, yielding complete lines."""
    inflater = zlib.decompressobj(wbits=31)
    rest = b""
    for chunk in body.iter_chunks(_CHUNK):
        sha.update(chunk)
        data = rest + inflater.decompress(chunk)
        *lines, rest = data.split(b"\n")
        yield from lines
    data = rest + inflater.flush()
    yield from (line for line in data.split(b"\n") if line)


class Restorer:
    def __init__(self, session: Any, keyspace: str, store: ArchiveStore) -> None:
        model = schema.build_schema(keyspace)
        self._table = model.table(schema.CHECKINS_BY_DEVICE_DAY)
        self._session = session
        self._store = store
        self._insert_row = self._prepare(self._table.insert_cql(keyspace))
        self._insert_index = self._prepare(model.table(schema.DAY_PARTITIONS).insert_cql(keyspace))
        self._insert_day = self._prepare(model.table(schema.ACTIVE_DAYS).insert_cql(keyspace))

    def _prepare(self, cql: str) -> Any:
        statement = self._session.prepare(cql)
        statement.is_idempotent = True
        return statement

    def _values(self, record: dict[str, Any]) -> tuple[Any, ...]:
        unknown = set(record) - set(self._table.column_names)
        if unknown:
            raise RestoreError(f"archive columns {sorted(unknown)} are not in the table")
        values = []
        for name in self._table.column_names:
            raw = record.get(name)
            values.append(None if raw is None else _CONVERTERS[self._table.column_type(name)](raw))
        return tuple(values)

    def restore_object(self, entry: ManifestEntry, day: dt.date, dry_run: bool) -> int:
        head = self._store.head(entry.key)
        if head is None:
            raise RestoreError(f"{entry.key}: listed but not found")
        meta = head.get("Metadata", {})
        device = uuid.UUID(entry.device_id)
        if not dry_run:
            # The app's write order: day, then index, then rows.
            self._session.execute(self._insert_day, (schema.ACTIVE_DAYS_BUCKET, day))
            self._session.execute(self._insert_index, (day, schema.shard_for(device), device))
        sha = hashlib.sha256()
        body = self._store.open_object(entry.key)["Body"]
        rows = 0
        batch: list[tuple[Any, ...]] = []
        for line in _lines(body, sha):
            batch.append(self._values(json.loads(line)))
            rows += 1
            if len(batch) >= _BATCH_ROWS:
                self._flush(batch, dry_run)
        self._flush(batch, dry_run)
        if sha.hexdigest() != meta.get("sha256") or str(rows) != meta.get("rows"):
            raise RestoreError(
                f"{entry.key}: read {rows} rows, sha256 {sha.hexdigest()}; metadata says "
                f"{meta.get('rows')} rows, sha256 {meta.get('sha256')}"
            )
        return rows

    def _flush(self, batch: list[tuple[Any, ...]], dry_run: bool) -> None:
        if batch and not dry_run:
            results = execute_concurrent_with_args(
                self._session, self._insert_row, batch, concurrency=32, raise_on_first_error=True
            )
            del results
        batch.clear()


def restore_day(
    settings: CleanupSettings,
    session: Any,
    keyspace: str,
    s3_client: Any,
    day: dt.date,
    device: uuid.UUID | None = None,
    dry_run: bool = False,
    out: Any = None,
) -> dict[str, Any]:
    out = out or sys.stdout
    store = ArchiveStore(s3_client, settings)
    restorer = Restorer(session, keyspace, store)
    entries = [e for e in store.list_day(day) if device is None or e.device_id == str(device)]
    manifest = store.read_manifest(day)
    missing: list[str] = []
    if manifest is not None:
        listed = {e.key for e in entries}
        missing = [
            o["key"]
            for o in manifest["objects"]
            if o["key"] not in listed and (device is None or o["device_id"] == str(device))
        ]
    summary: dict[str, Any] = {
        "day": day.isoformat(),
        "dry_run": dry_run,
        "objects": 0,
        "rows": 0,
        "errors": [f"{key}: in the manifest but not in the bucket" for key in missing],
    }
    for entry in entries:
        try:
            rows = restorer.restore_object(entry, day, dry_run)
        except Exception as exc:  # report every bad object, keep restoring the others
            summary["errors"].append(f"{entry.key}: {type(exc).__name__}: {exc}")
            continue
        summary["objects"] += 1
        summary["rows"] += rows
        out.write(json.dumps({"event": "object-restored", "key": entry.key, "rows": rows}) + "\n")
    out.write(json.dumps({"event": "restore-finished", **summary}) + "\n")
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cleanup_job.restore",
        description="Re-insert one archived UTC day of check-ins from S3 into Keyspaces.",
    )
    parser.add_argument("--day", required=True, type=dt.date.fromisoformat, help="YYYY-MM-DD")
    parser.add_argument("--device", type=uuid.UUID, help="only this device's partition")
    parser.add_argument("--dry-run", action="store_true", help="read and check, insert nothing")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        keyspaces = load_keyspaces()
    except ConfigError as exc:
        print(f"python -m cleanup_job.restore: {exc}", file=sys.stderr)
        return 2
    cluster, session = connect(keyspaces)
    try:
        summary = restore_day(
            settings,
            session,
            keyspaces.keyspace,
            make_s3_client(settings),
            args.day,
            args.device,
            args.dry_run,
        )
    finally:
        cluster.shutdown()
    return 1 if summary["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
