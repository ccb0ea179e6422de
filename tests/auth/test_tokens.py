"""Login, access-token contents, refresh rotation, reuse detection and revocation."""

from __future__ import annotations

import json
import logging
import time
import uuid

import psycopg
from argon2 import PasswordHasher
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.auth.conftest import AUDIENCE, ISSUER, PASSWORD, login, new_email, sign_up

USER_SCOPE = "checkins:read checkins:write devices:read devices:write"


def _refresh(client, token):
    return client.post("/v1/token/refresh", json={"refresh_token": token})


def test_login_issues_a_contract_access_token(client, user):
    tokens = user["tokens"]
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 900
    assert tokens["scope"] == USER_SCOPE
    jwks = KeySet.import_key_set(client.get("/.well-known/jwks.json").json())
    decoded = jwt.decode(tokens["access_token"], jwks, algorithms=["ES256"])
    assert decoded.header == {"alg": "ES256", "typ": "at+jwt", "kid": "current-key"}
    claims = decoded.claims
    assert claims["iss"] == ISSUER
    assert claims["aud"] == AUDIENCE
    assert claims["sub"] == user["id"]
    assert claims["scope"] == USER_SCOPE
    assert claims["exp"] - claims["iat"] == 900
    assert claims["nbf"] == claims["iat"]
    assert abs(claims["iat"] - time.time()) < 60
    uuid.UUID(claims["jti"])
    assert "akid" not in claims and "token_use" not in claims


def test_token_responses_are_not_cacheable(client, user):
    response = _refresh(client, user["tokens"]["refresh_token"])
    assert response.headers["cache-control"] == "no-store"


def test_each_login_gets_a_distinct_jti_and_refresh_token(client, user):
    again = login(client, user["email"])
    assert again["refresh_token"] != user["tokens"]["refresh_token"]
    first = jwt.decode(user["tokens"]["access_token"], _jwks(client)).claims["jti"]
    second = jwt.decode(again["access_token"], _jwks(client)).claims["jti"]
    assert first != second


def _jwks(client):
    return KeySet.import_key_set(client.get("/.well-known/jwks.json").json())


def test_email_is_normalised_at_login(client):
    email = new_email()
    sign_up(client, email=email)
    assert login(client, f"  {email.upper()} ")["access_token"]


def test_wrong_password_and_unknown_user_get_the_same_answer(client, user):
    wrong = client.post(
        "/v1/token",
        json={"grant_type": "password", "email": user["email"], "password": "not the password!"},
    )
    unknown = client.post(
        "/v1/token", json={"grant_type": "password", "email": new_email(), "password": PASSWORD}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "invalid e-mail or password"}


def test_unknown_user_costs_one_argon2_verify_like_a_wrong_password(client, user, monkeypatch):
    """No enumeration by timing: both paths run exactly one Argon2id verification."""
    calls: list[str] = []
    original = PasswordHasher.verify

    def counting(self, stored, password):
        calls.append(stored.split("$")[3])  # the parameters part, e.g. m=19456,t=2,p=1
        return original(self, stored, password)

    monkeypatch.setattr(PasswordHasher, "verify", counting)
    for email in (user["email"], new_email()):
        response = client.post(
            "/v1/token",
            json={"grant_type": "password", "email": email, "password": "wrong password!!"},
        )
        assert response.status_code == 401
    assert calls == ["m=19456,t=2,p=1", "m=19456,t=2,p=1"]


def test_login_rehashes_when_argon2_parameters_change(client_factory, auth_database_url):
    old = client_factory(argon2_time_cost=1, argon2_memory_kib=8192)
    email = new_email()
    created = sign_up(old, email=email)

    def stored() -> str:
        with psycopg.connect(auth_database_url) as conn:
            return conn.execute(
                "SELECT password_hash FROM users WHERE id = %s", (created["id"],)
            ).fetchone()[0]

    assert "$m=8192,t=1,p=1$" in stored()
    current = client_factory()  # production parameters
    login(current, email)
    assert "$m=19456,t=2,p=1$" in stored()
    login(current, email)  # the new hash verifies


def test_refresh_rotates_and_the_new_token_works(client, user):
    first = _refresh(client, user["tokens"]["refresh_token"])
    assert first.status_code == 200
    body = first.json()
    assert body["refresh_token"] != user["tokens"]["refresh_token"]
    assert jwt.decode(body["access_token"], _jwks(client)).claims["sub"] == user["id"]
    second = _refresh(client, body["refresh_token"])
    assert second.status_code == 200


def test_reused_refresh_token_revokes_the_whole_family_and_is_logged(client, user, caplog):
    original = user["tokens"]["refresh_token"]
    successor = _refresh(client, original).json()["refresh_token"]
    with caplog.at_level(logging.WARNING, logger="auth_service.tokens"):
        reuse = _refresh(client, original)
    assert reuse.status_code == 401
    assert reuse.json() == {"detail": "invalid refresh token"}
    # The legitimate-looking successor dies with its family.
    assert _refresh(client, successor).status_code == 401
    (record,) = [r for r in caplog.records if "reuse" in r.getMessage()]
    assert record.user_id == user["id"]
    assert record.tokens_revoked == 2
    assert original not in record.getMessage() and successor not in json.dumps(
        record.__dict__, default=str
    )


def test_reuse_does_not_touch_other_sessions(client, user):
    other_session = login(client, user["email"])
    original = user["tokens"]["refresh_token"]
    _refresh(client, original)
    assert _refresh(client, original).status_code == 401
    assert _refresh(client, other_session["refresh_token"]).status_code == 200


def test_unknown_refresh_token_is_401(client):
    assert _refresh(client, "rt_" + "x" * 43).status_code == 401


def test_expired_refresh_token_is_401(client, user, auth_database_url):
    with psycopg.connect(auth_database_url) as conn:
        conn.execute(
            "UPDATE refresh_tokens SET expires_at = now() - interval '1 second' WHERE user_id = %s",
            (user["id"],),
        )
    assert _refresh(client, user["tokens"]["refresh_token"]).status_code == 401


def test_refresh_tokens_are_stored_only_as_digests(client, user, auth_database_url):
    with psycopg.connect(auth_database_url) as conn:
        rows = conn.execute(
            "SELECT token_hash FROM refresh_tokens WHERE user_id = %s", (user["id"],)
        ).fetchall()
    assert len(rows) == 1
    (digest,) = rows[0]
    assert len(digest) == 32
    assert user["tokens"]["refresh_token"].encode() not in bytes(digest)


def test_revoke_logs_out_the_family(client, user):
    successor = _refresh(client, user["tokens"]["refresh_token"]).json()["refresh_token"]
    response = client.post("/v1/token/revoke", json={"refresh_token": successor})
    assert response.status_code == 204
    assert _refresh(client, successor).status_code == 401


def test_revoke_of_an_unknown_token_reveals_nothing(client):
    response = client.post("/v1/token/revoke", json={"refresh_token": "rt_unknown"})
    assert response.status_code == 204


def test_token_request_needs_a_known_grant_type(client):
    response = client.post("/v1/token", json={"grant_type": "client_credentials"})
    assert response.status_code == 422
    response = client.post("/v1/token", json={"email": new_email(), "password": PASSWORD})
    assert response.status_code == 422


def test_refresh_rejects_unknown_fields_and_empty_tokens(client):
    assert client.post("/v1/token/refresh", json={"refresh_token": ""}).status_code == 422
    response = client.post("/v1/token/refresh", json={"refresh_token": "x", "scope": "admin"})
    assert response.status_code == 422


def test_rotation_never_extends_a_login_past_its_family_lifetime(client_factory, auth_database_url):
    client = client_factory(refresh_family_max_seconds=600)
    created = sign_up(client)
    tokens = login(client, created["email"])
    rotated = _refresh(client, tokens["refresh_token"])
    assert rotated.status_code == 200
    with psycopg.connect(auth_database_url) as conn:
        rows = conn.execute(
            "SELECT expires_at - issued_at <= interval '600 seconds',"
            " expires_at <= family_expires_at FROM refresh_tokens WHERE user_id = %s",
            (created["id"],),
        ).fetchall()
    # Both tokens end with the 10-minute family, not after the 30-day token lifetime.
    assert rows == [(True, True), (True, True)]
