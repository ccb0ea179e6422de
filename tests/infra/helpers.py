"""Small look-ups over synthesized `cdk.tf.json` documents."""

from __future__ import annotations

import json
from typing import Any

ENVIRONMENTS = ("dev", "prod")


def one(resources: dict[str, dict[str, Any]]) -> dict[str, Any]:
    assert len(resources) == 1, f"expected exactly one, got {sorted(resources)}"
    return next(iter(resources.values()))


def ref(resource_type: str, body_or_key: dict[str, Any] | str, attribute: str = "id") -> str:
    """The interpolation cdktf writes for a reference to another resource's attribute."""
    key = body_or_key if isinstance(body_or_key, str) else body_or_key["//"]["metadata"]["uniqueId"]
    return f"${{{resource_type}.{key}.{attribute}}}"


def by_name_tag(resources: dict[str, dict[str, Any]], name: str) -> tuple[str, dict[str, Any]]:
    for key, body in resources.items():
        if body.get("tags", {}).get("Name") == name:
            return key, body
    raise AssertionError(f"no resource tagged Name={name!r}")


def policy(body: dict[str, Any], attribute: str = "policy") -> dict[str, Any]:
    return json.loads(body[attribute])
