"""The app's own lifecycle: it connects from KEYSPACES_* settings, serves, then closes the
cluster on shutdown; liveness and readiness."""

from __future__ import annotations

from checkins_app.main import create_app
from fastapi.testclient import TestClient

from tests.app.conftest import app_settings


def test_lifespan_connects_from_settings_and_closes_the_cluster(
    monkeypatch, cassandra_node, app_keyspace, auth_jwks
):
    monkeypatch.setenv("KEYSPACES_CONTACT_POINTS", ",".join(cassandra_node.contact_points))
    monkeypatch.setenv("KEYSPACES_PORT", str(cassandra_node.port))
    monkeypatch.setenv("KEYSPACES_LOCAL_DC", cassandra_node.local_dc)
    monkeypatch.setenv("KEYSPACES_KEYSPACE", app_keyspace)
    app = create_app(app_settings(), jwks_client=auth_jwks.client())
    with TestClient(app) as client:
        assert client.get("/ready").json() == {"status": "ready", "storage": "ok"}
        cluster = app.state.cluster
        assert not cluster.is_shutdown
    assert cluster.is_shutdown


def test_health_needs_no_token(client):
    assert client.get("/health").json() == {"status": "ok"}


def test_ready_reports_storage(client):
    response = client.get("/ready")
    assert response.status_code == 200
    assert response.json()["storage"] == "ok"


def test_openapi_documents_the_bearer_scheme(client):
    spec = client.get("/openapi.json").json()
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    assert spec["paths"]["/v1/devices/{device_id}/checkins"]["post"]["security"]


def test_request_id_is_echoed_or_generated(client):
    assert client.get("/health", headers={"X-Request-ID": "req-42"}).headers["x-request-id"] == (
        "req-42"
    )
    generated = client.get("/health", headers={"X-Request-ID": "not well formed!"})
    assert len(generated.headers["x-request-id"]) == 32
