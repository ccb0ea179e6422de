"""The service as the image runs it: real uvicorn, the Dockerfile's CMD, SIGTERM to stop."""

from __future__ import annotations

import json
import signal
import urllib.request

import pytest
from service_kit.server import uvicorn_options

from tests.auth.conftest import make_settings
from tests.auth.live_server import LiveServer, image_command


def _env(url: str, keys: list[dict]) -> dict[str, str]:
    return {
        "AUTH_DATABASE_URL": url,
        "AUTH_DB_REQUIRE_TLS": "false",
        "AUTH_DB_SSLMODE": "disable",
        "AUTH_SIGNING_KEYS": json.dumps({"keys": keys}),
        "AUTH_ISSUER": "https://auth.test.example",
        "AUTH_MIGRATE_ON_START": "true",
        # The test client is the "load balancer": trusted to set X-Forwarded-For.
        "FORWARDED_ALLOW_IPS": "127.0.0.1",
    }


@pytest.fixture(scope="module")
def server(postgres_server, signing_keys):
    url = postgres_server.create_database("auth_live")
    live = LiveServer(_env(url, signing_keys))
    live.start()
    yield live
    if live.process.poll() is None:
        live.stop()


def _get(server, path, headers=None):
    request = urllib.request.Request(f"{server.url}{path}", headers=headers or {})
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status, json.loads(response.read() or b"null")


def test_image_command_is_exec_form_with_graceful_shutdown(signing_keys):
    assert image_command() == ["python", "-m", "auth_service"]
    settings = make_settings("postgresql://auth@db.internal/auth", signing_keys)
    options = uvicorn_options(settings)
    assert options["timeout_graceful_shutdown"] == 20
    assert options["proxy_headers"] is True
    # Trusted proxies come from FORWARDED_ALLOW_IPS (the image's private ranges), never "*".
    assert options["forwarded_allow_ips"] is None
    assert options["access_log"] is False  # the service writes its own line, without queries


def test_starts_migrates_and_serves(server):
    assert _get(server, "/ready") == (200, {"status": "ready"})
    status, jwks = _get(server, "/.well-known/jwks.json")
    assert status == 200 and len(jwks["keys"]) == 2


def test_trusted_proxy_header_sets_the_client_address_then_sigterm_stops_cleanly(server):
    # The proxy appends the real address; an address the client wrote itself is ignored.
    _get(server, "/health", {"X-Forwarded-For": "6.6.6.6, 203.0.113.9", "X-Request-ID": "xff"})
    code = server.stop()
    # uvicorn re-raises the signal after its graceful shutdown, so the exit status is SIGTERM's.
    assert code in (0, -signal.SIGTERM)
    lines = [json.loads(line) for line in server.output.splitlines() if line.strip()]
    messages = [line["message"] for line in lines]
    # Every line is JSON (the parse above), uvicorn's own included.
    assert "auth service started" in messages
    assert any(m.startswith("Finished server process") for m in messages)
    assert not [line for line in lines if "color_message" in line]  # no terminal colour codes
    # The lifespan shutdown ran: the pool was closed, not abandoned.
    assert "auth service stopped" in messages
    (xff,) = [line for line in lines if line.get("request_id") == "xff"]
    assert xff["client_ip"] == "203.0.113.9"
