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
# The C string encoder json uses with ensure_ascii=False.
_encode_str = json.encoder.encode_basestring  # type: ignore[attr-defined]
# One encoder instance: json.dumps would build a new one per call for these options.
_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)
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


def _timestamp(value: dt.datetime) -> str:
    if value.tzinfo is None and value.microsecond % 1000 == 0:
        # Fast path (the common case): already whole milliseconds, naive UTC.
        return value.isoformat(timespec="milliseconds") + "Z"
    return format_timestamp(value)


def _float(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError(f"non-finite float {value!r}")
    return value


def _cassandra_date(value: CassandraDate) -> str:
    return value.date().isoformat()  # ValueError outside Python's date range


def _identity(value: Any) -> Any:
    return value


# Exact type -> encoder; dispatch by dict keeps the per-row cost low. Types not listed (blob,
# collections, decimals, ...) have no agreed archive form and are refused.
_ENCODERS: dict[type, Any] = {
    type(None): _identity,
    str: _identity,
    bool: _identity,
    int: _identity,
    float: _float,
    uuid.UUID: str,
    dt.datetime: _timestamp,
    dt.date: dt.date.isoformat,
    CassandraDate: _cassandra_date,
}


def _value(column: str, value: Any) -> Any:
    encoder = _ENCODERS.get(type(value))
    if encoder is None:
        raise UnserialisableRow(f"column {column!r}: unsupported type {type(value).__name__}")
    try:
        return encoder(value)
    except ValueError as exc:
        raise UnserialisableRow(f"column {column!r}: {exc}") from exc


def encode_row(columns: Sequence[str], values: Sequence[Any]) -> bytes:
    """One JSON object per line, newline-terminated (reference implementation)."""
    record = {name: _value(name, value) for name, value in zip(columns, values, strict=True)}
    try:
        return (_ENCODER.encode(record) + "\n").encode("utf-8")
    except (ValueError, UnicodeEncodeError) as exc:
        raise UnserialisableRow(f"row cannot be encoded: {exc}") from exc


def _json_scalar(value: Any) -> str:
    """JSON text of one already-converted value, exactly as ``json`` writes it."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _encode_str(value)
    if isinstance(value, int):
        return int.__repr__(value)
    return float.__repr__(value)


class RowEncoder:
    """Encodes pages of rows with one fixed column list, byte-identical to :func:`encode_row`
    but about twice as fast: keys are sorted and pre-rendered once, values are written
    without building a dict per row."""

    def __init__(self, columns: Sequence[str]) -> None:
        order = sorted(range(len(columns)), key=lambda i: columns[i])
        self._columns = list(columns)
        self._order = order
        self._prefixes = [
            ("{" if n == 0 else ",") + _encode_str(columns[i]) + ":" for n, i in enumerate(order)
        ]

    def encode(self, rows: Iterable[Sequence[Any]]) -> tuple[bytes, int]:
        parts: list[str] = []
        columns, order, prefixes = self._columns, self._order, self._prefixes
        count = 0
        for row in rows:
            if len(row) != len(columns):
                raise UnserialisableRow(f"row has {len(row)} values for {len(columns)} columns")
            for prefix, i in zip(prefixes, order, strict=True):
                parts.append(prefix)
                parts.append(_json_scalar(_value(columns[i], row[i])))
            parts.append("}\n")
            count += 1
        try:
            return "".join(parts).encode("utf-8"), count
        except UnicodeEncodeError as exc:
            raise UnserialisableRow(f"row cannot be encoded: {exc}") from exc


def encode_rows(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> tuple[bytes, int]:
    """Encode a page of rows into one buffer; returns (bytes, row count)."""
    return RowEncoder(columns).encode(rows)
