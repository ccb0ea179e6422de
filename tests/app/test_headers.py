"""Issue 11: the headers an API behind a load balancer sends on every answer (service_kit)."""

from __future__ import annotations

from tests.app.test_checkins import url

EXPECTED = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "cache-control": "no-store",
}


def _check(response) -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (name, dict(response.headers))


def test_every_answer_carries_the_security_headers(client, caller, register):
    device_id = register(caller)
    _check(client.get("/health"))
    _check(client.get(url(device_id), headers=caller.headers))
    _check(client.get(url(device_id)))  # 401
    _check(client.post(url(device_id), content=b"{", headers=caller.headers))  # 422
    _check(client.get("/nowhere"))  # 404
