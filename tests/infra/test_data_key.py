"""The environment's data key encrypts the Keyspaces tables and the database; only Keyspaces and
RDS may use it for principals of this account."""

from __future__ import annotations

import pytest
from checkins_data.schema import build_schema

from tests.infra.helpers import ENVIRONMENTS, by_name_tag, policy, ref


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_data_key_rotates_and_is_usable_only_through_keyspaces_and_rds(synthesized, env):
    _, key = by_name_tag(synthesized.resources(env, "aws_kms_key"), f"checkins-{env}-data")
    statements = {s["Sid"]: s for s in policy(key)["Statement"]}
    via = statements["AccountUsesKeyThroughServices"]

    assert key["enable_key_rotation"] is True
    assert via["Condition"]["StringEquals"] == {
        "kms:CallerAccount": "111122223333",
        "kms:ViaService": [
            "cassandra.eu-west-1.amazonaws.com",
            "rds.eu-west-1.amazonaws.com",
        ],
    }
    assert "CloudWatchLogsUsesKey" not in statements


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_keyspaces_table_uses_the_data_key(synthesized, env):
    key_id, _ = by_name_tag(synthesized.resources(env, "aws_kms_key"), f"checkins-{env}-data")
    tables = synthesized.resources(env, "aws_keyspaces_table")

    assert len(tables) == len(build_schema().tables)
    for table in tables.values():
        (encryption,) = (
            table["encryption_specification"]
            if isinstance(table["encryption_specification"], list)
            else [table["encryption_specification"]]
        )
        assert encryption["type"] == "CUSTOMER_MANAGED_KMS_KEY"
        assert encryption["kms_key_identifier"] == ref("aws_kms_key", key_id, "arn")


@pytest.mark.parametrize(("env", "protected"), [("dev", False), ("prod", True)])
def test_keyspaces_destroy_protection_follows_deletion_protection(synthesized, env, protected):
    for resource_type in ("aws_keyspaces_keyspace", "aws_keyspaces_table"):
        for body in synthesized.resources(env, resource_type).values():
            assert body.get("lifecycle", {}).get("prevent_destroy", False) is protected
