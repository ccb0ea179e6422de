"""`python -m checkins_app` as the container runs it: serves, logs JSON, stops on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.app.conftest import TEST_CURSOR_KEY
from tests.app.tokens import ISSUER, bearer, mint, new_signing_key, public_jwk


@pytest.fixture
def jwks_endpoint():
    key = new_signing_key("entry-key")
    document = json.dumps({"keys": [public_jwk(key)]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(document)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield key, f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    server.shutdown()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_entrypoint_serves_logs_json_and_shuts_down_on_sigterm(
    cassandra_node, app_keyspace, jwks_endpoint
):
    key, jwks_url = jwks_endpoint
    port = _free_port()
    env = {
        **os.environ,
        "APP_AUTH_JWKS_URL": jwks_url,
        "APP_AUTH_JWKS_ALLOW_HTTP": "true",
        "APP_AUTH_ISSUER": ISSUER,
        "APP_CURSOR_KEYS": TEST_CURSOR_KEY,
        "APP_HOST": "127.0.0.1",
        "APP_PORT": str(port),
        "KEYSPACES_CONTACT_POINTS": ",".join(cassandra_node.contact_points),
        "KEYSPACES_PORT": str(cassandra_node.port),
        "KEYSPACES_LOCAL_DC": cassandra_node.local_dc,
        "KEYSPACES_KEYSPACE": app_keyspace,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "checkins_app"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.communicate()
            try:
                if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the app did not become ready"
            time.sleep(0.2)
        token = mint(key, sub=str(uuid.uuid4()))
        created = httpx.post(
            f"{base}/v1/devices",
            json={"name": "entry", "platform": "android"},
            headers=bearer(token),
            timeout=10,
        )
        assert created.status_code == 201, created.text
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    # uvicorn re-raises the signal after its graceful shutdown.
    assert proc.returncode in (0, -signal.SIGTERM), err[-2000:]
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    messages = [line["message"] for line in lines]
    posted = next(i for i, m in enumerate(messages) if "POST /v1/devices" in m and "201" in m)
    assert messages.index("ready to serve") < posted
    # The lifespan's last word, after draining and closing the Cassandra cluster.
    assert messages.index("stopped") > posted
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)


def test_invalid_environment_stops_with_one_line_naming_the_variable():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APP_", "KEYSPACES_"))}
    env["APP_AUTH_ISSUER"] = ISSUER
    env["APP_PORT"] = "not-a-port"
    result = subprocess.run(
        [sys.executable, "-m", "checkins_app"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    (line,) = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert line["level"] == "ERROR"
    message = line["message"]
    assert message.startswith("invalid check-ins app configuration: ")
    assert "APP_AUTH_JWKS_URL: missing environment variable" in message
    assert "APP_PORT: " in message and "not-a-port" not in message


def test_invalid_keyspaces_environment_is_named_before_serving(jwks_endpoint):
    _, jwks_url = jwks_endpoint
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APP_", "KEYSPACES_"))}
    env |= {
        "APP_AUTH_JWKS_URL": jwks_url,
        "APP_AUTH_JWKS_ALLOW_HTTP": "true",
        "APP_AUTH_ISSUER": ISSUER,
        "APP_CURSOR_KEYS": TEST_CURSOR_KEY,
        "KEYSPACES_PORT": "0",
    }
    result = subprocess.run(
        [sys.executable, "-m", "checkins_app"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    (line,) = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert "KEYSPACES_PORT: " in line["message"]
