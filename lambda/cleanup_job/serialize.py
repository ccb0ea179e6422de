"""Canonical JSON Lines serialisation of a check-in row.

Same row -> same bytes, always: keys sorted, no whitespace, UTF-8, timestamps as ISO 8601 UTC
with exactly millisecond precision (Cassandra's resolution), dates as ``YYYY-MM-DD``, UUIDs in
their canonical lower-case form. That determinism is what makes the archive key (a hash of the
content) stable across reruns. Anything the archive cannot represent losslessly is refused with
:class:`UnserialisableRow` instead of being guessed at.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from cassandra.util import Date as CassandraDate

_EPOCH = dt.datetime(1970, 1, 1)
_ONE_MS = dt.timedelta(milliseconds=1)


class UnserialisableRow(ValueError):
    """A row holds a value the archive format cannot represent losslessly."""


def format_timestamp(value: dt.datetime) -> str:
    """``2026-01-31T23:59:59.123Z``; the driver returns naive datetimes in UTC."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    # Round through whole milliseconds: the driver's float maths can yield 122999 µs for .123 s.
    millis = round((value - _EPOCH) / _ONE_MS)
    exact = _EPOCH + dt.timedelta(milliseconds=millis)
    return exact.strftime("%Y-%m-%dT%H:%M:%S.") + f"{exact.microsecond // 1000:03d}Z"


def parse_timestamp(text: str) -> dt.datetime:
    """Inverse of :func:`format_timestamp` (naive UTC, as the driver expects)."""
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)


def _value(column: str, value: Any) -> Any:
    # Order matters: bool is an int, datetime is a date.
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UnserialisableRow(f"column {column!r}: non-finite float {value!r}")
        return value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime):
        return format_timestamp(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, CassandraDate):
        try:
            return value.date().isoformat()
        except ValueError as exc:  # days outside Python's date range
            raise UnserialisableRow(f"column {column!r}: date out of range: {exc}") from exc
    raise UnserialisableRow(f"column {column!r}: unsupported type {type(value).__name__}")


def encode_row(columns: Sequence[str], values: Sequence[Any]) -> bytes:
    """One JSON object per line, newline-terminated."""
    record = {name: _value(name, value) for name, value in zip(columns, values, strict=True)}
    try:
        text = json.dumps(
            record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
        return text.encode("utf-8") + b"\n"
    except (ValueError, UnicodeEncodeError) as exc:
        raise UnserialisableRow(f"row cannot be encoded: {exc}") from exc


def encode_rows(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> tuple[bytes, int]:
    """Encode a page of rows into one buffer; returns (bytes, row count)."""
    lines = [encode_row(columns, row) for row in rows]
    return b"".join(lines), len(lines)
