"""Sign-up: normalisation, password policy, duplicates and bad input."""

from __future__ import annotations

import uuid

import pytest

from tests.auth.conftest import PASSWORD, new_email, sign_up


def test_sign_up_returns_the_user_without_secrets(client):
    email = new_email()
    response = client.post("/v1/users", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "email", "created_at"}
    assert body["email"] == email
    uuid.UUID(body["id"])
    assert PASSWORD not in response.text


def test_email_is_normalised(client):
    local = f"Mixed.Case-{uuid.uuid4().hex[:8]}"
    body = sign_up(client, email=f"  {local}@Example.COM ")
    assert body["email"] == f"{local.lower()}@example.com"


def test_duplicate_email_in_another_case_is_409(client):
    email = new_email()
    sign_up(client, email=email)
    response = client.post("/v1/users", json={"email": email.upper(), "password": PASSWORD})
    assert response.status_code == 409
    assert response.json() == {"detail": "e-mail already registered"}


def test_password_is_stored_as_argon2id(client, auth_database_url):
    import psycopg

    body = sign_up(client)
    with psycopg.connect(auth_database_url) as conn:
        (stored,) = conn.execute(
            "SELECT password_hash FROM users WHERE id = %s", (body["id"],)
        ).fetchone()
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert PASSWORD not in stored


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short pass", "at least 12 characters"),
        ("Password1234", "too common"),
        ("qwertyuiop123", "too common"),
        ("aaaaaaaaaaaaaaaa", "too few distinct characters"),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(client, password, reason):
    response = client.post("/v1/users", json={"email": new_email(), "password": password})
    assert response.status_code == 422
    assert reason in response.text
    # The refused password is not echoed back.
    assert password not in response.text


def test_password_equal_to_the_email_is_refused(client):
    email = f"averylongname{uuid.uuid4().hex[:6]}@example.com"
    response = client.post("/v1/users", json={"email": email, "password": email})
    assert response.status_code == 422
    assert "e-mail" in response.text


@pytest.mark.parametrize("email", ["not-an-email", "a@b", "two@@example.com", "sp ace@example.com"])
def test_invalid_email_is_422(client, email):
    response = client.post("/v1/users", json={"email": email, "password": PASSWORD})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "email"]


def test_unknown_field_is_422(client):
    response = client.post(
        "/v1/users", json={"email": new_email(), "password": PASSWORD, "is_admin": True}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "extra_forbidden"


def test_wrong_types_are_422(client):
    response = client.post("/v1/users", json={"email": 42, "password": ["x"]})
    assert response.status_code == 422
    locs = {tuple(err["loc"]) for err in response.json()["detail"]}
    assert locs == {("body", "email"), ("body", "password")}


def test_malformed_json_is_422_with_json_body(client):
    response = client.post(
        "/v1/users",
        content=b'{"email": "x@example.com", "password": ',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


def test_declared_oversize_body_is_413(client):
    blob = "x" * 20_000
    response = client.post("/v1/users", json={"email": new_email(), "password": blob})
    assert response.status_code == 413
    assert response.json() == {"detail": "request body exceeds 16384 bytes"}


def test_streamed_oversize_body_is_413(client):
    def chunks():
        yield b'{"email": "a@example.com", "password": "'
        for _ in range(40):
            yield b"y" * 1024
        yield b'"}'

    # A generator body is sent chunked: no Content-Length to reject up front.
    response = client.post(
        "/v1/users", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json() == {"detail": "request body exceeds 16384 bytes"}


def test_unknown_route_and_method_are_json_4xx(client):
    assert client.get("/v1/nothing-here").json() == {"detail": "Not Found"}
    response = client.get("/v1/users")
    assert response.status_code == 405
    assert response.json() == {"detail": "Method Not Allowed"}


@pytest.mark.parametrize("email", ["a\u0000b@example.com", "a@exa\u0007mple.com"])
def test_control_characters_in_the_email_are_422_at_sign_up_and_login(client, email):
    response = client.post("/v1/users", json={"email": email, "password": PASSWORD})
    assert response.status_code == 422
    login = client.post(
        "/v1/token", json={"grant_type": "password", "email": email, "password": PASSWORD}
    )
    assert login.status_code == 422


def test_input_the_database_refuses_is_422_not_500(client, monkeypatch):
    import psycopg
    from auth_service.store import users

    async def refuse(*_args, **_kwargs):
        raise psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes")

    monkeypatch.setattr(users, "create", refuse)
    response = client.post("/v1/users", json={"email": new_email(), "password": PASSWORD})
    assert response.status_code == 422
    assert response.json() == {"detail": "invalid input"}


@pytest.mark.parametrize("length", ["-1", "12x"])
def test_unparseable_content_length_is_400_with_a_reason(client, length):
    response = client.post(
        "/v1/users",
        content=b"{}",
        headers={"content-type": "application/json", "content-length": length},
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "bad Content-Length"}
    assert response.headers["x-request-id"]
