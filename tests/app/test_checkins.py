"""Check-in writes and reads against the real Cassandra."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from cassandra.query import BatchStatement
from checkins_app.store.repository import Repository
from checkins_data.schema import (
    ACTIVE_DAYS,
    ACTIVE_DAYS_BUCKET,
    CHECKINS_BY_DEVICE_DAY,
    DAY_PARTITIONS,
    shard_for,
)

from tests.app.tokens import bearer, mint


def iso(ts: datetime) -> str:
    return ts.isoformat()


def item(ts: datetime | None = None, **payload: object) -> dict:
    return {
        "checkin_id": str(uuid.uuid4()),
        "ts": iso(ts or datetime.now(UTC)),
        "payload": payload or {"battery": 0.8},
    }


def url(device_id: str) -> str:
    return f"/v1/devices/{device_id}/checkins"


def stored_rows(session, keyspace: str, device_id: str, day) -> list:
    return session.execute(
        f"SELECT checkin_id, ts, payload FROM {keyspace}.{CHECKINS_BY_DEVICE_DAY} "
        "WHERE device_id = %s AND day = %s",
        (uuid.UUID(device_id), day),
    ).all()


def read_all(client, device_id: str, headers: dict, limit: int, **params) -> tuple[list, int]:
    items: list = []
    cursor = None
    pages = 0
    while True:
        query = {"limit": limit, **params, **({"cursor": cursor} if cursor else {})}
        response = client.get(url(device_id), params=query, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["checkins"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            return items, pages
        assert pages < 100


def test_single_checkin_is_stored_and_read_back(client, caller, register):
    device_id = register(caller)
    sent = item(battery=0.42, app_version="3.1.0", accuracy_m=12.5)
    response = client.post(url(device_id), json={"checkins": [sent]}, headers=caller.headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["stored"] == 1
    assert body["checkins"][0]["checkin_id"] == sent["checkin_id"]
    page = client.get(url(device_id), headers=caller.headers).json()
    assert [c["checkin_id"] for c in page["checkins"]] == [sent["checkin_id"]]
    assert page["checkins"][0]["payload"] == sent["payload"]
    assert page["next_cursor"] is None


def test_retried_request_stores_nothing_twice_and_answers_the_same(
    client, caller, register, app_session, app_keyspace
):
    device_id = register(caller)
    now = datetime.now(UTC)
    batch = {"checkins": [item(now - timedelta(seconds=i)) for i in range(5)]}
    first = client.post(url(device_id), json=batch, headers=caller.headers)
    second = client.post(url(device_id), json=batch, headers=caller.headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    days = {c["day"] for c in first.json()["checkins"]}
    rows = [r for day in days for r in stored_rows(app_session, app_keyspace, device_id, day)]
    assert sorted(str(r.checkin_id) for r in rows) == sorted(
        c["checkin_id"] for c in batch["checkins"]
    )


def test_timestamps_are_stored_to_the_millisecond(client, caller, register):
    device_id = register(caller)
    ts = datetime.now(UTC).replace(microsecond=123456)
    sent = item(ts)
    ack = client.post(url(device_id), json={"checkins": [sent]}, headers=caller.headers).json()
    assert datetime.fromisoformat(ack["checkins"][0]["ts"]) == ts.replace(microsecond=123000)


def test_batch_of_fifty_across_days_is_stored_and_indexed(
    client, caller, register, app_session, app_keyspace
):
    device_id = register(caller)
    now = datetime.now(UTC)
    batch = [item(now - timedelta(hours=2 * i)) for i in range(50)]  # spans 5 UTC days
    response = client.post(url(device_id), json={"checkins": batch}, headers=caller.headers)
    assert response.status_code == 201, response.text
    assert response.json()["stored"] == 50
    days = {c["day"] for c in response.json()["checkins"]}
    assert len(days) >= 4
    total = 0
    for day in days:
        total += len(stored_rows(app_session, app_keyspace, device_id, day))
        # The cleanup job's way in: the day is listed, and the device partition is indexed.
        assert app_session.execute(
            f"SELECT day FROM {app_keyspace}.{ACTIVE_DAYS} WHERE bucket = %s AND day = %s",
            (ACTIVE_DAYS_BUCKET, day),
        ).one()
        assert app_session.execute(
            f"SELECT device_id FROM {app_keyspace}.{DAY_PARTITIONS} "
            "WHERE day = %s AND shard = %s AND device_id = %s",
            (day, shard_for(uuid.UUID(device_id)), uuid.UUID(device_id)),
        ).one()
    assert total == 50
    since = iso(now - timedelta(days=6))
    listed, _ = read_all(client, device_id, caller.headers, limit=500, since=since)
    assert [c["checkin_id"] for c in listed] == [c["checkin_id"] for c in batch]


class RecordingSession:
    """The real session, recording the CQL of every statement in the order it is sent."""

    def __init__(self, session) -> None:
        self._session = session
        self.sent: list[str] = []

    def prepare(self, cql: str):
        return self._session.prepare(cql)

    def execute_async(self, statement, params=None):
        if isinstance(statement, BatchStatement):  # only check-in rows are batched
            self.sent.append("BATCH " + CHECKINS_BY_DEVICE_DAY)
        else:
            self.sent.append(statement.query_string)
        return self._session.execute_async(statement, params)


def test_index_rows_are_written_before_the_checkins(app_session, app_keyspace):
    import asyncio

    recording = RecordingSession(app_session)
    repo = Repository(recording, app_keyspace)  # type: ignore[arg-type]
    from checkins_app.store.repository import CheckinRecord, to_millis

    device_id = uuid.uuid4()
    now = to_millis(datetime.now(UTC))
    noon = now.replace(hour=12, minute=0, second=0, microsecond=0)
    stamps = (noon, noon - timedelta(days=1), noon - timedelta(days=1, hours=1))
    records = [CheckinRecord(uuid.uuid4(), ts, "{}") for ts in stamps]
    asyncio.run(repo.write_checkins(device_id, records, received_at=now))
    first_checkin = min(i for i, q in enumerate(recording.sent) if CHECKINS_BY_DEVICE_DAY in q)
    index = [i for i, q in enumerate(recording.sent) if ACTIVE_DAYS in q or DAY_PARTITIONS in q]
    assert len(index) == 4  # two days: one active_days and one day_partitions row each
    assert max(index) < first_checkin
    # Written once: a second write for the same days skips the index rows.
    recording.sent.clear()
    asyncio.run(repo.write_checkins(device_id, records[:1], received_at=now))
    assert all(CHECKINS_BY_DEVICE_DAY in q for q in recording.sent)


def test_paging_walks_newest_first_without_gaps_or_repeats(client, caller, register):
    device_id = register(caller)
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    same = base - timedelta(days=1)
    batch = [item(base - timedelta(minutes=i)) for i in range(4)]
    batch += [item(same) for _ in range(4)]  # ties on ts, ordered by checkin_id
    batch += [item(base - timedelta(days=2, minutes=i)) for i in range(3)]
    assert client.post(url(device_id), json={"checkins": batch}, headers=caller.headers).is_success
    whole, _ = read_all(client, device_id, caller.headers, limit=100)
    paged, pages = read_all(client, device_id, caller.headers, limit=2)
    assert pages == 6
    assert [c["checkin_id"] for c in paged] == [c["checkin_id"] for c in whole]
    assert sorted(c["checkin_id"] for c in whole) == sorted(c["checkin_id"] for c in batch)
    stamps = [datetime.fromisoformat(c["ts"]) for c in whole]
    assert stamps == sorted(stamps, reverse=True)


def test_since_bounds_the_listing(client, caller, register):
    device_id = register(caller)
    now = datetime.now(UTC)
    recent, old = item(now - timedelta(hours=1)), item(now - timedelta(days=3))
    client.post(url(device_id), json={"checkins": [recent, old]}, headers=caller.headers)
    listed, _ = read_all(
        client, device_id, caller.headers, limit=10, since=iso(now - timedelta(days=1))
    )
    assert [c["checkin_id"] for c in listed] == [recent["checkin_id"]]
    listed, _ = read_all(
        client, device_id, caller.headers, limit=10, since=iso(now - timedelta(days=4))
    )
    assert [c["checkin_id"] for c in listed] == [recent["checkin_id"], old["checkin_id"]]


def test_since_beyond_the_window_is_422(client, caller, register):
    device_id = register(caller)
    since = iso(datetime.now(UTC) - timedelta(days=90))
    response = client.get(url(device_id), params={"since": since}, headers=caller.headers)
    assert response.status_code == 422
    assert "since" in json.dumps(response.json())


@pytest.mark.parametrize("cursor", ["garbage", "eyJ2IjoxfQ", "e30", "x" * 600])
def test_bad_cursor_is_400_or_422(client, caller, register, cursor):
    device_id = register(caller)
    response = client.get(url(device_id), params={"cursor": cursor}, headers=caller.headers)
    assert response.status_code in (400, 422)
    assert response.json()["detail"]


def test_cursor_of_another_device_is_rejected(client, caller, register):
    first, second = register(caller), register(caller)
    client.post(url(first), json={"checkins": [item(), item()]}, headers=caller.headers)
    cursor = client.get(url(first), params={"limit": 1}, headers=caller.headers).json()[
        "next_cursor"
    ]
    response = client.get(url(second), params={"cursor": cursor}, headers=caller.headers)
    assert response.status_code == 400


def test_devices_of_others_are_forbidden(client, new_caller, register):
    owner, other = new_caller(), new_caller()
    device_id = register(owner)
    write = client.post(url(device_id), json={"checkins": [item()]}, headers=other.headers)
    read = client.get(url(device_id), headers=other.headers)
    assert write.status_code == read.status_code == 403
    assert "another account" in write.json()["detail"]
    assert client.get(url(device_id), headers=owner.headers).json()["checkins"] == []


def test_unregistered_device_is_404(client, caller):
    response = client.post(
        url(str(uuid.uuid4())), json={"checkins": [item()]}, headers=caller.headers
    )
    assert response.status_code == 404


def test_api_key_token_is_limited_to_its_scopes(client, caller, register, signing_key):
    device_id = register(caller)
    client.post(url(device_id), json={"checkins": [item()]}, headers=caller.headers)
    api_read = mint(
        signing_key,
        sub=caller.subject,
        scope="checkins:read",
        claims={"token_use": "api_key", "akid": "ak_test"},
    )
    assert len(client.get(url(device_id), headers=bearer(api_read)).json()["checkins"]) == 1
    denied = client.post(url(device_id), json={"checkins": [item()]}, headers=bearer(api_read))
    assert denied.status_code == 403
    assert "checkins:write" in denied.json()["detail"]
    api_write = mint(
        signing_key,
        sub=caller.subject,
        scope="checkins:write",
        claims={"token_use": "api_key", "akid": "ak_test2"},
    )
    ok = client.post(url(device_id), json={"checkins": [item()]}, headers=bearer(api_write))
    assert ok.status_code == 201


def test_missing_and_bad_tokens_are_401(client, caller, register, signing_key):
    device_id = register(caller)
    missing = client.get(url(device_id))
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    expired = mint(signing_key, sub=caller.subject, issued_at=0, lifetime=60)
    response = client.get(url(device_id), headers=bearer(expired))
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]
    basic = client.get(url(device_id), headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert basic.status_code == 401


# --- bad input: 4xx with a useful body, nothing stored ---


def _rejected_write(client, caller, device_id, body=None, *, content=None, status=422):
    kwargs = {"content": content, "headers": {**caller.headers, "Content-Type": "application/json"}}
    if content is None:
        kwargs = {"json": body, "headers": caller.headers}
    response = client.post(url(device_id), **kwargs)
    assert response.status_code == status, response.text
    assert response.json()["detail"]
    assert client.get(url(device_id), headers=caller.headers).json()["checkins"] == []
    return response


def test_batch_over_fifty_is_rejected(client, caller, register):
    device_id = register(caller)
    _rejected_write(client, caller, device_id, {"checkins": [item() for _ in range(51)]})


def test_empty_batch_is_rejected(client, caller, register):
    _rejected_write(client, caller, register(caller), {"checkins": []})


def test_duplicate_ids_in_a_batch_are_rejected(client, caller, register):
    one = item()
    twin = {**item(), "checkin_id": one["checkin_id"]}
    _rejected_write(client, caller, register(caller), {"checkins": [one, twin]})


def test_far_future_timestamp_rejects_the_whole_batch(client, caller, register):
    device_id = register(caller)
    future = item(datetime.now(UTC) + timedelta(minutes=10))
    response = _rejected_write(client, caller, device_id, {"checkins": [item(), future]})
    assert response.json()["detail"][0]["loc"] == ["body", "checkins", 1, "ts"]


def test_too_old_timestamp_is_rejected(client, caller, register):
    old = item(datetime.now(UTC) - timedelta(days=40))
    _rejected_write(client, caller, register(caller), {"checkins": [old]})


def test_timestamp_without_offset_is_rejected(client, caller, register):
    naive = {**item(), "ts": datetime.now(UTC).replace(tzinfo=None).isoformat()}
    _rejected_write(client, caller, register(caller), {"checkins": [naive]})


def test_invalid_uuids_are_rejected(client, caller, register):
    device_id = register(caller)
    _rejected_write(client, caller, device_id, {"checkins": [{**item(), "checkin_id": "nope"}]})
    response = client.post(url("not-a-uuid"), json={"checkins": [item()]}, headers=caller.headers)
    assert response.status_code == 422


def test_oversize_payload_is_rejected(client, caller, register):
    big = item(blob="x" * 5000)
    _rejected_write(client, caller, register(caller), {"checkins": [big]})


def test_deeply_nested_payload_is_rejected(client, caller, register):
    deep = {**item(), "payload": {"a": {"b": {"c": {"d": {"e": 1}}}}}}
    _rejected_write(client, caller, register(caller), {"checkins": [deep]})


def test_non_finite_numbers_are_rejected(client, caller, register):
    device_id = register(caller)
    raw = json.dumps({"checkins": [item()]}).replace("0.8", "NaN")
    _rejected_write(client, caller, device_id, content=raw)


def test_malformed_json_is_rejected(client, caller, register):
    _rejected_write(client, caller, register(caller), content='{"checkins": [')


def test_oversize_body_is_413(client, caller, register):
    device_id = register(caller)
    body = json.dumps(
        {"checkins": [item(pad="y" * 3000) for _ in range(50)]} | {"x": "z" * 200_000}
    )
    _rejected_write(client, caller, device_id, content=body, status=413)


def test_oversize_chunked_body_is_413(client, caller, register):
    device_id = register(caller)

    def chunks():
        yield b'{"checkins": ['
        for _ in range(400):
            yield json.dumps(item(pad="p" * 1000)).encode() + b","
        yield b"]}"

    response = client.post(
        url(device_id),
        content=chunks(),
        headers={**caller.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert "exceeds" in response.json()["detail"]
