"""Issue 11: e-mail addresses that look like another, and the security headers of the service."""

from __future__ import annotations

import pytest

from tests.auth.conftest import PASSWORD, new_email, sign_up

SECURITY = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
}


@pytest.mark.parametrize(
    "char",
    ["\u202e", "\u200b", "\u200d", "\u2066", "\ufeff", "\u00ad", "\u2028", "\u2029", "\x85"],
    ids=["RLO", "ZWSP", "ZWJ", "LRI", "BOM", "soft-hyphen", "LS", "PS", "NEL"],
)
def test_sign_up_refuses_invisible_and_bidi_characters(client, char):
    local, _, domain = new_email().partition("@")
    for email in (f"{local}{char}@{domain}", f"{local}@{domain[:3]}{char}{domain[3:]}"):
        response = client.post("/v1/users", json={"email": email, "password": PASSWORD})
        assert response.status_code == 422, (repr(email), response.text)
        assert response.json()["detail"][0]["loc"][-1] == "email"


def test_security_headers_on_every_answer(client, user):
    token = user["tokens"]["access_token"]
    answers = [
        client.get("/health"),
        client.post(
            "/v1/token",
            json={"grant_type": "password", "email": user["email"], "password": PASSWORD},
        ),
        client.get("/v1/api-keys", headers={"Authorization": f"Bearer {token}"}),
        client.get("/v1/api-keys"),
        client.post("/v1/users", content=b"{"),
        client.get("/.well-known/jwks.json"),
    ]
    for response in answers:
        for name, value in SECURITY.items():
            assert response.headers.get(name) == value, (response.request.url, name)
    for response in answers[:-1]:
        assert response.headers.get("cache-control") == "no-store", response.request.url
    # The public keys stay cacheable.
    assert answers[-1].headers["cache-control"] == "public, max-age=300"


def test_plain_addresses_still_sign_up(client):
    assert sign_up(client)["email"].endswith("@example.com")
