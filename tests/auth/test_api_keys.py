"""API keys: created by a user, shown once, stored hashed, scoped, exchanged, revoked."""

from __future__ import annotations

import hashlib

import psycopg
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.auth.conftest import PASSWORD, login, sign_up


def _auth(user) -> dict:
    return {"Authorization": f"Bearer {user['tokens']['access_token']}"}


def _create(client, user, scopes=("checkins:read",), name="integration"):
    return client.post(
        "/v1/api-keys", json={"name": name, "scopes": list(scopes)}, headers=_auth(user)
    )


def _exchange(client, key):
    return client.post("/v1/token", json={"grant_type": "api_key", "api_key": key})


def test_key_is_shown_once_and_listed_without_the_secret(client, user):
    created = _create(client, user, scopes=["checkins:read", "devices:read"])
    assert created.status_code == 201
    body = created.json()
    key = body["key"]
    assert key.startswith("ak_") and len(key) > 40
    assert body["prefix"] == key[:10]
    assert created.headers["cache-control"] == "no-store"
    listed = client.get("/v1/api-keys", headers=_auth(user))
    assert listed.status_code == 200
    (item,) = listed.json()
    assert item["id"] == body["id"]
    assert item["scopes"] == ["checkins:read", "devices:read"]
    assert "key" not in item
    assert key not in listed.text


def test_key_is_stored_as_a_digest(client, user, auth_database_url):
    key = _create(client, user).json()["key"]
    with psycopg.connect(auth_database_url) as conn:
        (stored,) = conn.execute(
            "SELECT key_hash FROM api_keys WHERE user_id = %s", (user["id"],)
        ).fetchone()
    assert bytes(stored) == hashlib.sha256(key.encode()).digest()


def test_key_exchanges_for_a_scoped_access_token(client, user):
    created = _create(client, user, scopes=["checkins:write"]).json()
    response = _exchange(client, created["key"])
    assert response.status_code == 200
    body = response.json()
    assert "refresh_token" not in body
    assert body["scope"] == "checkins:write"
    jwks = KeySet.import_key_set(client.get("/.well-known/jwks.json").json())
    claims = jwt.decode(body["access_token"], jwks, algorithms=["ES256"]).claims
    assert claims["sub"] == user["id"]
    assert claims["scope"] == "checkins:write"
    assert claims["akid"] == created["id"]
    assert claims["token_use"] == "api_key"
    listed = client.get("/v1/api-keys", headers=_auth(user)).json()
    assert listed[0]["last_used_at"] is not None


def test_revoked_key_no_longer_exchanges(client, user):
    created = _create(client, user).json()
    response = client.delete(f"/v1/api-keys/{created['id']}", headers=_auth(user))
    assert response.status_code == 200
    assert response.json()["revoked_at"] is not None
    refused = _exchange(client, created["key"])
    assert refused.status_code == 401
    assert refused.json() == {"detail": "invalid or revoked API key"}


def test_users_cannot_see_or_revoke_each_others_keys(client):
    alice = sign_up(client)
    alice["tokens"] = login(client, alice["email"])
    bob = sign_up(client)
    bob["tokens"] = login(client, bob["email"])
    key_id = _create(client, alice).json()["id"]
    assert client.get("/v1/api-keys", headers=_auth(bob)).json() == []
    assert client.delete(f"/v1/api-keys/{key_id}", headers=_auth(bob)).status_code == 404


def test_api_key_tokens_cannot_manage_keys(client, user):
    key = _create(client, user, scopes=["checkins:read"]).json()["key"]
    token = _exchange(client, key).json()["access_token"]
    response = client.post(
        "/v1/api-keys",
        json={"name": "escalate", "scopes": ["checkins:write"]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 403


def test_unknown_or_repeated_scopes_are_422(client, user):
    assert _create(client, user, scopes=["admin"]).status_code == 422
    assert _create(client, user, scopes=["checkins:read", "checkins:read"]).status_code == 422
    assert _create(client, user, scopes=[]).status_code == 422


def test_key_management_needs_a_bearer_token(client):
    assert client.get("/v1/api-keys").status_code == 401
    response = client.get("/v1/api-keys", headers={"Authorization": "Bearer not-a-jwt"})
    assert response.status_code == 401


def test_active_keys_per_user_are_limited(client_factory):
    client = client_factory(api_key_max_per_user=2)
    user = sign_up(client)
    user["tokens"] = login(client, user["email"])
    ids = [_create(client, user).json()["id"] for _ in range(2)]
    over = _create(client, user)
    assert over.status_code == 409
    client.delete(f"/v1/api-keys/{ids[0]}", headers=_auth(user))
    assert _create(client, user).status_code == 201


def test_malformed_key_id_is_422(client, user):
    assert client.delete("/v1/api-keys/not-a-uuid", headers=_auth(user)).status_code == 422


def test_key_limit_holds_under_concurrent_creation(settings_factory):
    import asyncio

    import httpx
    from auth_service.main import create_app

    async def scenario() -> list[int]:
        app = create_app(settings_factory(api_key_max_per_user=3, db_pool_max_size=8))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://auth") as http:
                email = f"race-{id(app)}@example.com"
                await http.post("/v1/users", json={"email": email, "password": PASSWORD})
                token = (
                    await http.post(
                        "/v1/token",
                        json={"grant_type": "password", "email": email, "password": PASSWORD},
                    )
                ).json()["access_token"]
                responses = await asyncio.gather(
                    *(
                        http.post(
                            "/v1/api-keys",
                            json={"name": f"k{i}", "scopes": ["checkins:read"]},
                            headers={"Authorization": f"Bearer {token}"},
                        )
                        for i in range(8)
                    )
                )
                return sorted(r.status_code for r in responses)

    assert asyncio.run(scenario()) == [201] * 3 + [409] * 5


def test_deleted_user_with_a_live_token_cannot_create_keys(client, user, auth_database_url):
    with psycopg.connect(auth_database_url) as conn:
        conn.execute("DELETE FROM users WHERE id = %s", (user["id"],))
    response = _create(client, user)
    assert response.status_code == 401
    assert response.json() == {"detail": "user no longer exists"}


def test_control_characters_in_the_key_name_are_422(client, user):
    response = client.post(
        "/v1/api-keys",
        json={"name": "bad\u0000name", "scopes": ["checkins:read"]},
        headers=_auth(user),
    )
    assert response.status_code == 422
