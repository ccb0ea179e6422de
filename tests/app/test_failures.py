"""Cassandra trouble becomes 503 + Retry-After, never a 500 and never a false success.

The app talks to the real node through a `FaultyProxy`, with a short request timeout.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime

import pytest
from checkins_app.main import create_app
from checkins_app.store.repository import CheckinRecord, Repository, to_millis
from checkins_data.connection import KeyspacesSettings, connect
from checkins_data.schema import CHECKINS_BY_DEVICE_DAY
from fastapi.testclient import TestClient

from tests.app.conftest import app_settings
from tests.app.faults import FaultyProxy


@pytest.fixture(scope="module")
def proxy(cassandra_node):
    faulty = FaultyProxy(cassandra_node.contact_points[0], cassandra_node.port)
    yield faulty
    faulty.close()


@pytest.fixture(scope="module")
def proxied(proxy, cassandra_node, app_keyspace):
    settings = KeyspacesSettings(
        contact_points=("127.0.0.1",),
        port=proxy.port,
        local_dc=cassandra_node.local_dc,
        keyspace=app_keyspace,
        request_timeout_s=1.0,
        connect_timeout_s=2.0,
    )
    cluster, session = connect(settings)
    yield Repository(session, app_keyspace)
    cluster.shutdown()


@pytest.fixture(scope="module")
def faulty_client(proxied, auth_jwks):
    app = create_app(
        app_settings(retry_after_seconds=7), repository=proxied, jwks_client=auth_jwks.client()
    )
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(autouse=True)
def healed(proxy, faulty_client):
    proxy.restore()
    _wait_ready(faulty_client)
    yield
    proxy.restore()


def _wait_ready(client: TestClient, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while client.get("/ready").status_code != 200:
        assert time.monotonic() < deadline, "the driver did not reconnect"
        time.sleep(0.3)


def _batch(n: int = 3) -> dict:
    now = datetime.now(UTC)
    return {
        "checkins": [
            {"checkin_id": str(uuid.uuid4()), "ts": now.isoformat(), "payload": {"n": i}}
            for i in range(n)
        ]
    }


def _assert_503(response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "7"
    assert "retry" in response.json()["detail"]


@pytest.fixture
def device(faulty_client, caller):
    device_id = str(uuid.uuid4())
    response = faulty_client.post(
        "/v1/devices",
        json={"device_id": device_id, "name": "p", "platform": "ios"},
        headers=caller.headers,
    )
    assert response.status_code == 201
    return device_id


def test_timeouts_give_503_and_the_retry_succeeds_once(
    faulty_client, proxy, caller, device, app_session, app_keyspace
):
    batch = _batch()
    url = f"/v1/devices/{device}/checkins"
    proxy.blackhole()
    _assert_503(faulty_client.post(url, json=batch, headers=caller.headers))
    _assert_503(faulty_client.get(url, headers=caller.headers))
    _assert_503(faulty_client.get("/ready"))
    proxy.restore()
    _wait_ready(faulty_client)
    retry = faulty_client.post(url, json=batch, headers=caller.headers)
    assert retry.status_code == 201
    day = retry.json()["checkins"][0]["day"]
    rows = app_session.execute(
        f"SELECT checkin_id FROM {app_keyspace}.{CHECKINS_BY_DEVICE_DAY} "
        "WHERE device_id = %s AND day = %s",
        (uuid.UUID(device), day),
    ).all()
    assert sorted(str(r.checkin_id) for r in rows) == sorted(
        c["checkin_id"] for c in batch["checkins"]
    )


def test_lost_connections_give_503(faulty_client, proxy, caller, device):
    url = f"/v1/devices/{device}/checkins"
    proxy.cut()
    _assert_503(faulty_client.post(url, json=_batch(), headers=caller.headers))
    _assert_503(faulty_client.get(url, headers=caller.headers))
    _assert_503(
        faulty_client.post(
            "/v1/devices", json={"name": "n", "platform": "ios"}, headers=caller.headers
        )
    )
    _assert_503(faulty_client.get("/v1/devices", headers=caller.headers))
    _assert_503(faulty_client.get("/ready"))
    assert faulty_client.get("/health").status_code == 200  # liveness does not need storage


def test_drain_waits_for_writes_in_flight(proxied, proxy, app_session, app_keyspace):
    device_id = uuid.uuid4()
    now = to_millis(datetime.now(UTC))
    record = CheckinRecord(uuid.uuid4(), now, '{"slow": true}')
    proxy.delay(0.15)

    def landed() -> bool:
        return (
            app_session.execute(
                f"SELECT checkin_id FROM {app_keyspace}.{CHECKINS_BY_DEVICE_DAY} "
                "WHERE device_id = %s AND day = %s",
                (device_id, record.day),
            ).one()
            is not None
        )

    async def scenario() -> tuple[bool, bool, bool]:
        write = asyncio.create_task(proxied.write_checkins(device_id, [record], received_at=now))
        await asyncio.sleep(0.05)
        assert proxied.in_flight.count > 0
        before = landed()
        drained = await proxied.drain(timeout=10)
        after = landed()  # checked before the write task is awaited
        await write
        return before, drained, after

    before, drained, after = asyncio.run(scenario())
    assert not before  # the write was really still in flight when the drain began
    assert drained
    assert after


def test_a_shut_down_cluster_is_unavailable_and_leaves_nothing_in_flight(
    cassandra_node, app_keyspace
):
    from checkins_app.store.db import StorageUnavailable

    settings = KeyspacesSettings(
        contact_points=cassandra_node.contact_points,
        port=cassandra_node.port,
        local_dc=cassandra_node.local_dc,
        keyspace=app_keyspace,
    )
    cluster, session = connect(settings)
    repo = Repository(session, app_keyspace)
    cluster.shutdown()
    with pytest.raises(StorageUnavailable):
        asyncio.run(repo.ping())
    assert repo.in_flight.count == 0
    assert asyncio.run(repo.drain(timeout=0.1))
