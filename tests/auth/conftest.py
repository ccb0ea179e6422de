"""Auth service fixtures: a migrated database on the session's PostgreSQL, apps and clients."""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from auth_service import migrate
from auth_service.core.config import Settings
from auth_service.core.security import generate_signing_key
from auth_service.main import create_app
from fastapi import FastAPI
from fastapi.testclient import TestClient

ISSUER = "https://auth.test.example"
AUDIENCE = "platform-api"
PASSWORD = "a sturdy passphrase 42"
_ip_counter = itertools.count(1)


@pytest.fixture(scope="session")
def signing_keys() -> list[dict[str, Any]]:
    """Current and previous private keys, as AUTH_SIGNING_KEYS holds them during a rotation."""
    return [generate_signing_key("current-key"), generate_signing_key("previous-key")]


@pytest.fixture(scope="session")
def auth_database_url(postgres_server) -> str:
    url = postgres_server.create_database("auth_tests")
    migrate.apply(url)
    return url


def make_settings(database_url: str, keys: list[dict[str, Any]], **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "signing_keys": json.dumps({"keys": keys}),
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "database_url": database_url,
        # The throwaway server speaks plain TCP on loopback; production requires TLS.
        "db_require_tls": False,
        "db_sslmode": "disable",
        "db_pool_min_size": 1,
        "db_pool_max_size": 8,
        "db_pool_timeout_seconds": 2.0,
        "db_connect_timeout_seconds": 2,
        # Production Argon2 parameters: one verify measured at ~20 ms here, cheap enough.
        **overrides,
    }
    return Settings(**values)


@pytest.fixture
def settings_factory(auth_database_url, signing_keys) -> Callable[..., Settings]:
    def factory(**overrides: Any) -> Settings:
        return make_settings(
            overrides.pop("database_url", auth_database_url), signing_keys, **overrides
        )

    return factory


def unique_ip() -> str:
    """A client address of its own, so per-IP throttling counts only this test's attempts."""
    n = next(_ip_counter)
    return f"198.18.{n // 250}.{n % 250 + 1}"


@pytest.fixture
def client_factory(settings_factory) -> Iterator[Callable[..., TestClient]]:
    opened: list[TestClient] = []

    def factory(ip: str | None = None, **overrides: Any) -> TestClient:
        app: FastAPI = create_app(settings_factory(**overrides))
        client = TestClient(app, client=(ip or unique_ip(), 50000))
        client.__enter__()  # runs the lifespan: pool opened, closed at teardown
        opened.append(client)
        return client

    yield factory
    for client in reversed(opened):
        client.__exit__(None, None, None)


@pytest.fixture
def client(client_factory) -> TestClient:
    return client_factory()


def new_email() -> str:
    return f"user-{uuid.uuid4().hex[:12]}@example.com"


def sign_up(client: TestClient, email: str | None = None, password: str = PASSWORD) -> dict:
    response = client.post("/v1/users", json={"email": email or new_email(), "password": password})
    assert response.status_code == 201, response.text
    return response.json()


def login(client: TestClient, email: str, password: str = PASSWORD) -> dict:
    response = client.post(
        "/v1/token", json={"grant_type": "password", "email": email, "password": password}
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def user(client) -> dict:
    """A signed-up user and a fresh login: {"email", "id", "tokens"}."""
    created = sign_up(client)
    return {**created, "tokens": login(client, created["email"])}
