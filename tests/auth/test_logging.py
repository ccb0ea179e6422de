"""Logs: one JSON object per line, with the request id, and never a secret."""

from __future__ import annotations

import io
import json
import logging

import pytest
from service_kit.logging import JsonFormatter

from tests.auth.conftest import PASSWORD, login, new_email, sign_up


@pytest.fixture
def log_lines(client):
    """Everything logged while the test runs, formatted as the service formats it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    # The service's INFO lines are what is under test; run alone, nothing has set that level.
    level = root.level
    root.setLevel(logging.INFO)
    root.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_a_full_session_logs_json_with_request_ids_and_no_secrets(client, log_lines):
    email = new_email()
    sign_up(client, email=email)
    tokens = login(client, email)
    rotated = client.post("/v1/token/refresh", json={"refresh_token": tokens["refresh_token"]})
    client.post("/v1/token/refresh", json={"refresh_token": tokens["refresh_token"]})  # reuse
    headers = {"Authorization": f"Bearer {rotated.json()['access_token']}"}
    key = client.post(
        "/v1/api-keys", json={"name": "x", "scopes": ["checkins:read"]}, headers=headers
    ).json()["key"]
    client.post("/v1/token", json={"grant_type": "password", "email": email, "password": "nope"})

    lines = log_lines()
    access = [line for line in lines if line["logger"] == "auth_service.access"]
    assert len(access) == 6
    assert all(line["request_id"] and line["status"] for line in access)
    assert {line["path"] for line in access} >= {"/v1/users", "/v1/token", "/v1/token/refresh"}
    assert any(line["message"].startswith("refresh token reuse") for line in lines)
    text = "\n".join(json.dumps(line) for line in lines)
    for secret in (
        PASSWORD,
        tokens["access_token"],
        tokens["refresh_token"],
        rotated.json()["refresh_token"],
        key,
    ):
        assert secret not in text


def test_request_id_is_returned_and_propagated(client, log_lines):
    response = client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    (line,) = [line for line in log_lines() if line["logger"] == "auth_service.access"]
    assert line["request_id"] == "abc-123"


def test_malformed_request_id_is_replaced(client):
    response = client.get("/health", headers={"X-Request-ID": "bad id\twith spaces"})
    assert response.headers["x-request-id"] != "bad id\twith spaces"
    assert len(response.headers["x-request-id"]) == 32
