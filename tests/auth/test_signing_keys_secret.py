"""The service on AWS's key source: the key set in Secrets Manager (moto, in process), read at
start and on refresh; readiness, JWKS and token issuing follow it; a failing Secrets Manager
leaves the last good set in service."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator

import pytest
from auth_service.main import create_app
from fastapi.testclient import TestClient
from key_rotation.config import RotationSettings

from tests.auth.conftest import make_settings, new_email, sign_up, unique_ip
from tests.key_rotation.conftest import aws, kms_key_arn, secret_arn, secrets  # noqa: F401
from tests.key_rotation.rotation_driver import SecretsManagerRotation

pytestmark = pytest.mark.postgres


@pytest.fixture
def rotation(secrets, secret_arn) -> SecretsManagerRotation:  # noqa: F811
    driver = SecretsManagerRotation(secrets, secret_arn, RotationSettings(), time.time)
    driver.enable()
    return driver


@pytest.fixture
def client(auth_database_url, secrets, secret_arn) -> Iterator[TestClient]:  # noqa: F811
    settings = make_settings(
        auth_database_url,
        [],
        signing_keys=None,
        signing_keys_secret_arn=secret_arn,
        signing_keys_refresh_seconds=3600,  # the test refreshes by hand
    )
    with TestClient(create_app(settings, secrets_client=secrets), client=(unique_ip(), 1)) as c:
        yield c


def refresh(client: TestClient) -> bool:
    return client.portal.call(client.app.state.signing_keys.refresh)


def token_kid(token: str) -> str:
    segment = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))["kid"]


def password_login(client: TestClient, email: str):
    return client.post(
        "/v1/token",
        json={"grant_type": "password", "email": email, "password": "a sturdy passphrase 42"},
    )


def test_without_a_key_set_the_service_is_not_ready_and_issues_nothing(client):
    ready = client.get("/ready")
    assert (ready.status_code, ready.json()) == (503, {"status": "signing keys unavailable"})
    assert client.get("/.well-known/jwks.json").status_code == 503
    answer = password_login(client, new_email())
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"


def test_once_filled_the_secret_s_key_signs_and_is_published(client, rotation, secrets):  # noqa: F811
    rotation.rotate()
    assert refresh(client)
    assert client.get("/ready").status_code == 200
    kid = json.loads(secrets.get_secret_value(SecretId=rotation.arn)["SecretString"])["keys"][0][
        "kid"
    ]
    jwks = client.get("/.well-known/jwks.json").json()
    assert [k["kid"] for k in jwks["keys"]] == [kid] and "d" not in jwks["keys"][0]
    user = sign_up(client)
    tokens = password_login(client, user["email"]).json()
    assert token_kid(tokens["access_token"]) == kid
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client.get("/v1/api-keys", headers=bearer).status_code == 200


def test_a_rotation_publishes_the_new_key_but_keeps_signing_with_the_current_one(client, rotation):
    rotation.rotate()
    refresh(client)
    first = client.app.state.signing_keys.keyring.current_kid
    rotation.rotate()
    assert refresh(client)
    kids = [k["kid"] for k in client.get("/.well-known/jwks.json").json()["keys"]]
    assert len(kids) == 2 and kids[0] == first
    user = sign_up(client)
    assert token_kid(password_login(client, user["email"]).json()["access_token"]) == first


def test_when_secrets_manager_fails_the_last_good_set_stays_in_service(
    client,
    rotation,
    secrets,  # noqa: F811
    monkeypatch,
):
    rotation.rotate()
    refresh(client)
    jwks = client.get("/.well-known/jwks.json").content

    def unreachable(**_):
        raise ConnectionError("endpoint unreachable")

    monkeypatch.setattr(secrets, "get_secret_value", unreachable)
    assert not refresh(client)
    assert client.get("/ready").status_code == 200
    assert client.get("/.well-known/jwks.json").content == jwks
    user = sign_up(client)
    assert password_login(client, user["email"]).status_code == 200
