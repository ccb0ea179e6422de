"""Liveness, readiness, and a database outage that heals by itself."""

from __future__ import annotations

import time

import pytest
from auth_service.core.security import new_refresh_token

from tests.auth.conftest import PASSWORD, new_email, sign_up
from tests.auth.tcp_proxy import CuttableProxy


def test_health_and_ready(client):
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json() == {"status": "ready"}


def test_health_needs_no_database(client_factory):
    # Port 9 (discard) on loopback: nothing listens, connections are refused at once.
    client = client_factory(database_url="postgresql://nobody@127.0.0.1:9/none")
    assert client.get("/health").status_code == 200
    response = client.get("/ready")
    assert response.status_code == 503
    assert response.json() == {"status": "database unavailable"}


def test_ready_is_503_until_migrations_are_applied(client_factory, postgres_server):
    from auth_service import migrate

    url = postgres_server.create_database("auth_unmigrated")
    client = client_factory(database_url=url)
    assert client.get("/ready").json() == {"status": "migrations not applied"}
    migrate.apply(url)
    assert client.get("/ready").json() == {"status": "ready"}


@pytest.fixture
def proxy(postgres_server):
    proxy = CuttableProxy(postgres_server.host, postgres_server.port).start()
    yield proxy
    proxy.cut()


def _eventually(check, timeout=40.0):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


def test_database_outage_gives_503_and_recovers(client_factory, proxy, postgres_server):
    url = postgres_server.dsn("auth_tests").replace(f":{postgres_server.port}/", f":{proxy.port}/")
    client = client_factory(database_url=url, db_pool_timeout_seconds=1.0)
    email = sign_up(client)["email"]
    assert client.get("/ready").status_code == 200

    proxy.cut()
    ready = client.get("/ready")
    assert ready.status_code == 503
    assert ready.headers["retry-after"] == "5"
    login = client.post(
        "/v1/token", json={"grant_type": "password", "email": email, "password": PASSWORD}
    )
    assert login.status_code == 503
    assert login.json() == {"detail": "database unavailable, retry later"}
    refresh = client.post("/v1/token/refresh", json={"refresh_token": new_refresh_token()})
    assert refresh.status_code == 503
    signup = client.post("/v1/users", json={"email": new_email(), "password": PASSWORD})
    assert signup.status_code == 503

    proxy.restore()
    assert _eventually(lambda: client.get("/ready").status_code == 200)
    again = client.post(
        "/v1/token", json={"grant_type": "password", "email": email, "password": PASSWORD}
    )
    assert again.status_code == 200
