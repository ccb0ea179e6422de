"""Property-based run over the OpenAPI schema: no 5xx, answers conform to the schema.

Schemathesis generates valid and invalid requests for every operation; they are sent through
the same TestClient (and real PostgreSQL) as the other tests and every answer is validated.
"""

from __future__ import annotations

import json

import psycopg
import pytest
import schemathesis
from auth_service.core.scopes import USER_SCOPES
from auth_service.core.security import generate_signing_key
from auth_service.main import create_app
from hypothesis import HealthCheck, settings
from schemathesis import checks

from tests.auth.conftest import make_settings

MAX_EXAMPLES = 30  # per operation: bounded run time, and the same examples every run

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
]

# The schema needs no database: build it from an app that is never started.
_schema_only = create_app(
    make_settings("postgresql://unused@127.0.0.1:9/none", [generate_signing_key("schema")])
)
schema = schemathesis.openapi.from_dict(_schema_only.openapi())


@pytest.fixture(scope="module")
def fuzz_client(auth_database_url, signing_keys):
    from fastapi.testclient import TestClient

    # Random logins must not trip the throttle: a 429 would hide what follows it.
    app = create_app(
        make_settings(
            auth_database_url,
            signing_keys,
            throttle_ip_max_failures=1_000_000,
            throttle_account_max_failures=1_000_000,
        )
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def bearer(fuzz_client, auth_database_url):
    """A real user's access token, so the API-key operations are exercised past the 401."""
    with psycopg.connect(auth_database_url) as conn:
        (user_id,) = conn.execute(
            "INSERT INTO users (email, password_hash) VALUES ('fuzz-' || gen_random_uuid() ||"
            " '@example.com', 'not-a-hash') RETURNING id"
        ).fetchone()
    token = fuzz_client.app.state.signing_keys.keyring.issue(
        str(user_id), " ".join(USER_SCOPES)
    ).token
    return {"Authorization": f"Bearer {token}"}


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_conforms_and_never_fails_server_side(case, fuzz_client, bearer):
    headers = dict(bearer) if case.path.startswith("/v1/api-keys") else {}
    kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
    body = kwargs.pop("data", None)
    if "json" in kwargs:
        body = json.dumps(kwargs.pop("json")).encode()
    assert not kwargs.get("cookies"), "the API takes no cookies"
    response = fuzz_client.request(
        kwargs.pop("method"),
        kwargs.pop("url"),
        headers=kwargs.pop("headers", None),
        params=kwargs.pop("params", None),
        content=body,
    )
    case.validate_response(response, checks=CHECKS)
