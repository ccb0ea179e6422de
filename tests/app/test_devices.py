"""Device registration and listing against the real Cassandra."""

from __future__ import annotations

import asyncio
import uuid
from collections import namedtuple
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from checkins_app.store.repository import DeviceOwnedElsewhere, DeviceRow, Repository, to_millis
from checkins_data.schema import DEVICES, DEVICES_BY_OWNER


def test_register_device_stores_it_in_both_tables(client, caller, app_session, app_keyspace):
    device_id = str(uuid.uuid4())
    response = client.post(
        "/v1/devices",
        json={"device_id": device_id, "name": "Pixel", "platform": "android"},
        headers=caller.headers,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["device_id"] == device_id
    assert (body["name"], body["platform"]) == ("Pixel", "android")
    owner = app_session.execute(
        f"SELECT owner_id FROM {app_keyspace}.{DEVICES} WHERE device_id = %s",
        (uuid.UUID(device_id),),
    ).one()
    assert owner.owner_id == caller.subject
    listed = app_session.execute(
        f"SELECT device_id FROM {app_keyspace}.{DEVICES_BY_OWNER} WHERE owner_id = %s",
        (caller.subject,),
    ).all()
    assert [str(r.device_id) for r in listed] == [device_id]


def test_registration_retry_returns_the_same_answer(client, caller):
    payload = {"device_id": str(uuid.uuid4()), "name": "iPhone", "platform": "ios"}
    first = client.post("/v1/devices", json=payload, headers=caller.headers)
    again = client.post("/v1/devices", json=payload, headers=caller.headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    listed = client.get("/v1/devices", headers=caller.headers).json()["devices"]
    assert [d["device_id"] for d in listed] == [payload["device_id"]]


def test_device_id_is_generated_when_absent(client, caller):
    response = client.post(
        "/v1/devices", json={"name": "tablet", "platform": "other"}, headers=caller.headers
    )
    assert response.status_code == 201
    assert uuid.UUID(response.json()["device_id"])


def test_same_id_with_other_attributes_conflicts(client, caller, register):
    device_id = register(caller, name="old")
    response = client.post(
        "/v1/devices",
        json={"device_id": device_id, "name": "new", "platform": "ios"},
        headers=caller.headers,
    )
    assert response.status_code == 409
    assert "different" in response.json()["detail"]


def test_device_of_another_caller_cannot_be_claimed(client, new_caller, register):
    owner, thief = new_caller(), new_caller()
    device_id = register(owner)
    response = client.post(
        "/v1/devices",
        json={"device_id": device_id, "name": "phone", "platform": "ios"},
        headers=thief.headers,
    )
    assert response.status_code == 409
    assert client.get("/v1/devices", headers=thief.headers).json()["devices"] == []


def test_listing_shows_only_the_callers_devices_in_pages(client, new_caller, register):
    me, other = new_caller(), new_caller()
    mine = {register(me, name=f"d{i}") for i in range(5)}
    register(other)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/devices", params=params, headers=me.headers).json()
        seen += [d["device_id"] for d in page["devices"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert len(seen) == len(set(seen)) == 5
    assert set(seen) == mine


def test_cursor_of_another_caller_is_rejected(client, new_caller, register):
    me, other = new_caller(), new_caller()
    for _ in range(3):
        register(me)
    cursor = client.get("/v1/devices", params={"limit": 1}, headers=me.headers).json()[
        "next_cursor"
    ]
    assert cursor
    response = client.get("/v1/devices", params={"cursor": cursor}, headers=other.headers)
    assert response.status_code == 400
    assert "cursor" in response.json()["detail"]


def test_registration_needs_devices_write_scope(client, new_caller):
    reader = new_caller(scope="devices:read checkins:read")
    response = client.post(
        "/v1/devices", json={"name": "x", "platform": "ios"}, headers=reader.headers
    )
    assert response.status_code == 403
    assert "devices:write" in response.json()["detail"]
    assert "insufficient_scope" in response.headers["www-authenticate"]


def test_listing_needs_devices_read_scope(client, new_caller):
    writer = new_caller(scope="checkins:write")
    assert client.get("/v1/devices", headers=writer.headers).status_code == 403


def test_bad_registration_bodies_are_422_with_details(client, caller):
    for body in (
        {"name": "", "platform": "ios"},
        {"name": "x" * 101, "platform": "ios"},
        {"name": "phone", "platform": "symbian"},
        {"name": "phone", "platform": "ios", "device_id": "not-a-uuid"},
        {"name": "phone", "platform": "ios", "extra": 1},
    ):
        response = client.post("/v1/devices", json=body, headers=caller.headers)
        assert response.status_code == 422, body
        assert response.json()["detail"], body


class _AppliedOnly:
    """A driver future whose rows keep only the `[applied]` column."""

    def __init__(self, future) -> None:
        self._future = future

    def add_callbacks(self, callback, errback) -> None:
        applied = namedtuple("Row", ["applied"])

        def strip(rows) -> None:
            callback([applied(row[0]) for row in rows])

        self._future.add_callbacks(strip, errback)


class KeyspacesStyleSession:
    """The real session, except that a failed conditional write answers `[applied]` only,
    as Amazon Keyspaces may (Cassandra also returns the existing row)."""

    def __init__(self, session) -> None:
        self._session = session

    def prepare(self, cql: str):
        return self._session.prepare(cql)

    def execute_async(self, statement, params=None):
        future = self._session.execute_async(statement, params)
        if "IF NOT EXISTS" in getattr(statement, "query_string", ""):
            return _AppliedOnly(future)
        return future


def test_registration_retry_works_when_failed_claims_return_only_applied(app_session, app_keyspace):
    repo = Repository(KeyspacesStyleSession(app_session), app_keyspace)  # type: ignore[arg-type]
    now = to_millis(datetime.now(UTC))
    device = DeviceRow(uuid.uuid4(), "owner-a", "phone", "ios", now)
    assert asyncio.run(repo.register_device(device)) == device
    retried = replace(device, created_at=now + timedelta(seconds=5))
    assert asyncio.run(repo.register_device(retried)) == device  # the stored row, read back
    with pytest.raises(DeviceOwnedElsewhere):
        asyncio.run(repo.register_device(replace(device, owner_id="owner-b")))
