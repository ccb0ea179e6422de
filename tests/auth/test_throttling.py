"""Login throttling per account and per client IP, shared through PostgreSQL."""

from __future__ import annotations

import psycopg
import pytest
from auth_service.core.security import throttle_pseudonym

from tests.auth.conftest import PASSWORD, new_email, sign_up, unique_ip

WRONG = "definitely not it!"


def _attempt(client, email, password=WRONG):
    return client.post(
        "/v1/token", json={"grant_type": "password", "email": email, "password": password}
    )


@pytest.fixture
def strict(client_factory):
    """A client with small limits: 3 failures per account, 5 per IP, 60 s windows."""
    return client_factory(
        throttle_account_max_failures=3, throttle_ip_max_failures=5, throttle_window_seconds=60
    )


def test_account_is_throttled_after_repeated_failures(strict):
    email = sign_up(strict)["email"]
    assert [_attempt(strict, email).status_code for _ in range(3)] == [401, 401, 401]
    blocked = _attempt(strict, email, PASSWORD)  # even the right password waits
    assert blocked.status_code == 429
    assert 1 <= int(blocked.headers["retry-after"]) <= 60
    assert blocked.json() == {"detail": "too many failed attempts, retry later"}


def test_account_throttle_holds_for_other_client_ips(strict, client_factory):
    email = sign_up(strict)["email"]
    for _ in range(3):
        _attempt(strict, email)
    elsewhere = client_factory(
        throttle_account_max_failures=3, throttle_ip_max_failures=5, throttle_window_seconds=60
    )
    assert _attempt(elsewhere, email, PASSWORD).status_code == 429


def test_unknown_accounts_are_throttled_the_same_way(strict):
    """Otherwise the 429 would reveal which addresses have accounts."""
    email = new_email()
    assert [_attempt(strict, email).status_code for _ in range(4)] == [401, 401, 401, 429]


def test_client_ip_is_throttled_across_accounts(strict):
    emails = [new_email() for _ in range(5)]
    assert [_attempt(strict, e).status_code for e in emails] == [401] * 5
    # A sixth account, never tried before, is refused because of the address.
    response = _attempt(strict, new_email())
    assert response.status_code == 429
    assert "retry-after" in response.headers


def test_api_key_guessing_counts_against_the_ip(strict):
    for _ in range(5):
        response = strict.post("/v1/token", json={"grant_type": "api_key", "api_key": "ak_guess"})
        assert response.status_code == 401
    response = strict.post("/v1/token", json={"grant_type": "api_key", "api_key": "ak_guess"})
    assert response.status_code == 429


def test_successful_login_clears_the_account_counter(strict):
    email = sign_up(strict)["email"]
    for _ in range(2):
        _attempt(strict, email)
    assert _attempt(strict, email, PASSWORD).status_code == 200
    assert [_attempt(strict, email).status_code for _ in range(3)] == [401, 401, 401]
    assert _attempt(strict, email).status_code == 429


def test_throttle_is_shared_between_service_instances(client_factory):
    """Two app instances (two tasks) with their own pools see one counter."""
    ip = unique_ip()
    limits = {"throttle_account_max_failures": 4, "throttle_window_seconds": 60}
    task_a = client_factory(ip=ip, **limits)
    task_b = client_factory(ip=ip, **limits)
    email = sign_up(task_a)["email"]
    assert _attempt(task_a, email).status_code == 401
    assert _attempt(task_b, email).status_code == 401
    assert _attempt(task_a, email).status_code == 401
    assert _attempt(task_b, email).status_code == 401
    assert _attempt(task_a, email, PASSWORD).status_code == 429


def test_throttle_lifts_when_the_window_ends(strict, auth_database_url):
    email = sign_up(strict)["email"]
    for _ in range(3):
        _attempt(strict, email)
    assert _attempt(strict, email, PASSWORD).status_code == 429
    # Move the window into the past instead of sleeping through it.
    with psycopg.connect(auth_database_url) as conn:
        conn.execute(
            "UPDATE login_failures SET window_started_at = now() - interval '61 seconds'"
            " WHERE scope = 'account' AND key = %s",
            (throttle_pseudonym(email),),
        )
    assert _attempt(strict, email, PASSWORD).status_code == 200


def test_throttle_table_holds_no_plain_addresses(strict, auth_database_url):
    email = new_email()
    _attempt(strict, email)
    with psycopg.connect(auth_database_url) as conn:
        keys = [k for (k,) in conn.execute("SELECT key FROM login_failures").fetchall()]
    assert throttle_pseudonym(email) in keys
    assert email not in keys
