"""The archive line format: deterministic, lossless, strict."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from cassandra.util import Date
from cleanup_job.keys import object_key, parse_object_key
from cleanup_job.serialize import (
    RowEncoder,
    UnserialisableRow,
    encode_row,
    format_timestamp,
    parse_timestamp,
)
from cleanup_job.spool import PartitionSpool
from hypothesis import given, settings
from hypothesis import strategies as st

DEVICE = uuid.UUID("6f1c2d3e-4b5a-4978-8a9b-0c1d2e3f4a5b")


def test_line_is_canonical_json():
    line = encode_row(
        ["ts", "device_id", "payload", "day", "received_at"],
        [
            dt.datetime(2026, 1, 31, 23, 59, 59, 123000),
            DEVICE,
            '{"b": "é"}',
            Date(dt.date(2026, 1, 31)),
            None,
        ],
    )
    assert line == (
        b'{"day":"2026-01-31","device_id":"6f1c2d3e-4b5a-4978-8a9b-0c1d2e3f4a5b",'
        b'"payload":"{\\"b\\": \\"\xc3\xa9\\"}","received_at":null,'
        b'"ts":"2026-01-31T23:59:59.123Z"}\n'
    )


def test_timestamps_round_to_cassandra_milliseconds():
    # The driver's float arithmetic can hand back .122999 for .123.
    assert format_timestamp(dt.datetime(2026, 1, 1, 0, 0, 0, 122999)) == "2026-01-01T00:00:00.123Z"
    assert (
        format_timestamp(dt.datetime(2026, 1, 1, 23, 59, 59, 999999)) == "2026-01-02T00:00:00.000Z"
    )
    aware = dt.datetime(2026, 1, 1, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert format_timestamp(aware) == "2026-01-01T00:00:00.000Z"
    assert parse_timestamp("2026-01-01T00:00:00.123Z") == dt.datetime(2026, 1, 1, 0, 0, 0, 123000)


@pytest.mark.parametrize(
    "value",
    [float("nan"), float("inf"), b"\x00\x01", {1, 2}, Date(10**9), "\ud800"],
    ids=["nan", "inf", "blob", "set", "date-out-of-range", "lone-surrogate"],
)
def test_values_without_a_lossless_form_are_refused(value):
    with pytest.raises(UnserialisableRow):
        encode_row(["device_id", "x"], [DEVICE, value])


def test_same_rows_same_bytes_and_hashes():
    def build() -> tuple[bytes, object]:
        with PartitionSpool() as spool:
            for i in range(500):
                spool.write(encode_row(["device_id", "n"], [DEVICE, i]), 1)
            digest = spool.finish()
            return spool.read_all(), digest

    first, second = build(), build()
    assert first == second
    assert first[1].rows == 500


def test_object_key_round_trip():
    day = dt.date(2026, 2, 3)
    key = object_key("checkins", day, DEVICE, "ab" * 32)
    assert key == f"checkins/dt=2026-02-03/device={DEVICE}/part-{'ab' * 32}.jsonl.gz"
    assert parse_object_key(key) == (day, DEVICE, "ab" * 32)
    assert parse_object_key("checkins/dt=2026-02-03/other.json") is None


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(st.characters(exclude_categories=("Cs",))),
    st.uuids(),
    st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(9999, 12, 30)),
    st.dates().map(Date),
)


@settings(max_examples=200)
@given(
    columns=st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=6, unique=True),
    data=st.data(),
)
def test_fast_page_encoder_matches_the_reference(columns, data):
    rows = data.draw(st.lists(st.tuples(*[scalars for _ in columns]), max_size=5), label="rows")
    fast, count = RowEncoder(columns).encode(rows)
    assert count == len(rows)
    assert fast == b"".join(encode_row(columns, row) for row in rows)
    for line in fast.splitlines():
        assert list(json.loads(line)) == sorted(columns)
