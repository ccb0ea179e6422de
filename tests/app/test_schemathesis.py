"""Property-based run over the app's own OpenAPI document: no input yields a 5xx.

Bounded and deterministic: a fixed number of examples per operation, positive (schema-valid)
and negative (schema-violating) ones. Each case is sent twice: as generated, then with a valid
token of a caller who owns the device in the path, so fuzzed bodies reach Cassandra.
"""

from __future__ import annotations

import uuid

import pytest
import schemathesis
from checkins_app.main import create_app
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from tests.app.conftest import app_settings

schema = schemathesis.openapi.from_dict(create_app(app_settings()).openapi())
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
    max_examples=25,
)


@pytest.fixture(scope="module")
def owner(client, signing_key):
    from tests.app.tokens import bearer, mint

    subject = str(uuid.uuid4())
    headers = bearer(mint(signing_key, sub=subject, lifetime=3600))
    device_id = str(uuid.uuid4())
    response = client.post(
        "/v1/devices",
        json={"device_id": device_id, "name": "fuzz", "platform": "web"},
        headers=headers,
    )
    assert response.status_code == 201
    return headers, device_id


def _kwargs(case, headers: dict[str, str] | None = None) -> dict:
    kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
    if not kwargs.get("cookies"):
        kwargs.pop("cookies", None)  # per-request cookies are deprecated in the test client
    return kwargs


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
    derandomize=True,
)
def test_no_input_causes_a_server_error(case, client, owner):
    headers, device_id = owner
    response = client.request(**_kwargs(case))
    case.validate_response(response, checks=[not_a_server_error])
    if case.path_parameters and "device_id" in case.path_parameters:
        case.path_parameters["device_id"] = device_id
    response = client.request(**_kwargs(case, headers))
    case.validate_response(response, checks=[not_a_server_error])
    assert response.status_code < 500
