"""App fixtures: one keyspace per module on the real Cassandra, the app on a TestClient, tokens.

The app under test is the real one (`create_app`): real token verification against a JWKS
served in process, a real `Repository` on the test node. Every test works on fresh device ids
and callers, so tests share a module's keyspace without seeing each other's rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from checkins_app.core.config import Settings
from checkins_app.main import create_app
from checkins_app.store.repository import Repository
from fastapi.testclient import TestClient

from devtools.cassandra_keyspaces import create_test_keyspace, drop_test_keyspace
from tests.app.tokens import (
    ISSUER,
    JWKS_URL,
    USER_SCOPES,
    FakeAuthJwks,
    bearer,
    mint,
    new_signing_key,
)

TEST_CURSOR_KEY = "test-cursor-key-" + "0" * 32


def app_settings(**overrides: object) -> Settings:
    overrides.setdefault("cursor_keys", TEST_CURSOR_KEY)
    return Settings(auth_jwks_url=JWKS_URL, auth_issuer=ISSUER, **overrides)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def signing_key():
    return new_signing_key("test-key-1")


@pytest.fixture(scope="module")
def auth_jwks(signing_key) -> FakeAuthJwks:
    return FakeAuthJwks(signing_key)


@pytest.fixture(scope="module")
def app_keyspace(cassandra_cluster) -> Iterator[str]:
    session = cassandra_cluster.connect()
    name = create_test_keyspace(session)
    try:
        yield name
    finally:
        drop_test_keyspace(session, name)
        session.shutdown()


@pytest.fixture(scope="module")
def app_session(cassandra_cluster, app_keyspace):
    session = cassandra_cluster.connect(app_keyspace)
    try:
        yield session
    finally:
        session.shutdown()


@pytest.fixture(scope="module")
def repository(app_session, app_keyspace) -> Repository:
    return Repository(app_session, app_keyspace)


@pytest.fixture(scope="module")
def client(repository, auth_jwks) -> Iterator[TestClient]:
    app = create_app(app_settings(), repository=repository, jwks_client=auth_jwks.client())
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@dataclass
class Caller:
    """A user with a token; `headers` authenticate as them."""

    subject: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)


@pytest.fixture
def new_caller(signing_key) -> Callable[..., Caller]:
    def make(scope: str = USER_SCOPES, **claims: object) -> Caller:
        subject = str(uuid.uuid4())
        return Caller(subject, mint(signing_key, sub=subject, scope=scope, claims=claims))

    return make


@pytest.fixture
def caller(new_caller) -> Caller:
    return new_caller()


@pytest.fixture
def register(client) -> Callable[..., str]:
    """Register a device for `who`; returns its id."""

    def do(who: Caller, name: str = "phone", platform: str = "ios") -> str:
        device_id = str(uuid.uuid4())
        response = client.post(
            "/v1/devices",
            json={"device_id": device_id, "name": name, "platform": platform},
            headers=who.headers,
        )
        assert response.status_code == 201, response.text
        return device_id

    return do
