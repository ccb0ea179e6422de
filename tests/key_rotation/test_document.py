"""The key-set document both the rotation function and the auth service use."""

from __future__ import annotations

import json

import pytest
from signing_keys import document

T = 1_800_000_000


def key_set(*entries: document.KeyEntry) -> document.KeySet:
    return document.build(entries)


def test_a_written_set_reads_back_identically_and_byte_for_byte():
    original = key_set(
        document.retire(document.new_key(T, T), T + 9000), document.new_key(T + 10, T + 3610)
    )
    text = document.dumps(original)
    assert document.parse(text) == original
    assert document.dumps(document.parse(text)) == text


def test_the_signing_key_is_the_newest_active_one_and_every_unretired_key_is_published():
    a = document.retire(document.new_key(T, T), T + 3600 + 7200)
    b = document.new_key(T + 100, T + 3600)
    ring = key_set(a, b)
    assert ring.signing_key(T + 3599).kid == a.kid
    assert [k.kid for k in ring.published(T + 3599)] == [a.kid, b.kid]  # b before it signs
    assert ring.signing_key(T + 3600).kid == b.kid
    assert [k.kid for k in ring.published(T + 10800)] == [b.kid]
    assert ring.next_change(T) == T + 3600 and ring.next_change(T + 3600) == T + 10800


def _text(mutate) -> str:
    data = json.loads(document.dumps(key_set(document.new_key(T, T))))
    mutate(data)
    return json.dumps(data)


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda d: d.update(version=2), "version"),
        (lambda d: d.update(keys=[]), "non-empty list"),
        (lambda d: d["keys"].append(d["keys"][0]), "duplicate kid"),
        (lambda d: d["keys"][0]["jwk"].pop("d"), "private part 'd' missing"),
        (lambda d: d["keys"][0].update(extra=1), "unknown fields \\['extra'\\]"),
        (lambda d: d["keys"][0].update(activates_at="2020-01-01T00:00:00Z"), "earlier than"),
        (lambda d: d["keys"][0].update(retires_at=d["keys"][0]["activates_at"]), "later than"),
        (lambda d: d["keys"][0].update(created_at="2027-01-15 08:00"), "expected a time"),
        (lambda d: d["keys"][0]["jwk"].update(crv="P-384"), "EC P-256"),
        (lambda d: d.update(keys=d["keys"] * 17), "at most 16"),
    ],
)
def test_a_bad_document_is_refused_with_the_place_named(mutate, reason):
    with pytest.raises(document.KeySetError, match=reason):
        document.parse(_text(mutate))


def test_errors_never_repeat_key_material():
    text = _text(lambda d: d["keys"][0]["jwk"].update(x="AAAA"))
    private = json.loads(text)["keys"][0]["jwk"]["d"]
    with pytest.raises(document.KeySetError) as info:
        document.parse(text)
    assert private not in str(info.value)
