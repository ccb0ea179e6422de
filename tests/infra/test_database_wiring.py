"""Whole-app wiring of the auth database: configuration reaches it (dev and prod differ where
they should), it sits in the isolated subnets, its keys are the environment's data, secrets and
logs keys (each admitting RDS only as far as it must), and the outputs the compute layer reads
exist. Construct behaviour is tested in test_postgres_database.py."""

from __future__ import annotations

import pytest

from tests.infra.helpers import ENVIRONMENTS, by_name_tag, one, policy, ref


def _instance(synthesized, env):
    return one(synthesized.resources(env, "aws_db_instance"))


def test_prod_is_multi_az_protected_and_keeps_backups(synthesized):
    instance = _instance(synthesized, "prod")
    assert instance["multi_az"] is True
    assert instance["instance_class"] == "db.m7g.large"
    assert instance["deletion_protection"] is True
    assert instance["final_snapshot_identifier"] == "checkins-prod-auth-final"
    assert instance["backup_retention_period"] == 14
    assert instance["max_allocated_storage"] == 500
    assert instance["lifecycle"] == {"prevent_destroy": True}


def test_dev_is_single_zone_and_destroys_cleanly(synthesized):
    instance = _instance(synthesized, "dev")
    assert instance["multi_az"] is False
    assert instance["deletion_protection"] is False
    assert instance["skip_final_snapshot"] is True
    assert "final_snapshot_identifier" not in instance
    assert instance["backup_retention_period"] == 1


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_database_lives_in_the_isolated_subnets(synthesized, env):
    group = one(synthesized.resources(env, "aws_db_subnet_group"))
    subnets = synthesized.resources(env, "aws_subnet")
    isolated = sorted(
        ref("aws_subnet", key)
        for key, body in subnets.items()
        if "-isolated-" in body["tags"]["Name"]
    )
    assert sorted(group["subnet_ids"]) == isolated
    assert _instance(synthesized, env)["publicly_accessible"] is False


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_database_is_encrypted_with_the_environments_data_and_secrets_keys(synthesized, env):
    data_key, data = by_name_tag(synthesized.resources(env, "aws_kms_key"), f"checkins-{env}-data")
    secrets_key, _ = by_name_tag(synthesized.resources(env, "aws_kms_key"), f"checkins-{env}-secrets")  # fmt: skip
    instance = _instance(synthesized, env)
    via = {s["Sid"]: s for s in policy(data)["Statement"]}["AccountUsesKeyThroughServices"]

    # By ARN: an alias or key id would replace the database on every plan.
    assert instance["kms_key_id"] == ref("aws_kms_key", data_key, "arn")
    assert instance["performance_insights_kms_key_id"] == ref("aws_kms_key", data_key, "arn")
    assert instance["master_user_secret_kms_key_id"] == ref("aws_kms_key", secrets_key, "arn")
    assert "rds.eu-west-1.amazonaws.com" in via["Condition"]["StringEquals"]["kms:ViaService"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_rds_log_groups_use_the_logs_key_which_admits_them(synthesized, env):
    logs_key, key = by_name_tag(synthesized.resources(env, "aws_kms_key"), f"checkins-{env}-logs")
    groups = {
        body["name"]: body
        for body in synthesized.resources(env, "aws_cloudwatch_log_group").values()
        if body["name"].startswith("/aws/rds/")
    }
    logs = {s["Sid"]: s for s in policy(key)["Statement"]}["CloudWatchLogsUsesKey"]
    patterns = logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]

    assert sorted(groups) == [
        f"/aws/rds/instance/checkins-{env}-auth/postgresql",
        f"/aws/rds/instance/checkins-{env}-auth/upgrade",
    ]
    assert all(g["kms_key_id"] == ref("aws_kms_key", logs_key, "arn") for g in groups.values())
    assert f"arn:aws:logs:eu-west-1:111122223333:log-group:/aws/rds/*/checkins-{env}-*" in patterns


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_outputs_give_the_compute_layer_what_it_connects_with(synthesized, env):
    outputs = synthesized.stacks[env]["output"]
    (instance_key,) = synthesized.resources(env, "aws_db_instance")
    groups = {b["name"]: k for k, b in synthesized.resources(env, "aws_security_group").items()}

    assert outputs["database_address"]["value"] == ref("aws_db_instance", instance_key, "address")
    assert outputs["database_resource_id"]["value"] == ref("aws_db_instance", instance_key, "resource_id")  # fmt: skip
    assert outputs["database_port"]["value"] == 5432
    assert outputs["auth_service_security_group_id"]["value"] == ref(
        "aws_security_group", groups[f"checkins-{env}-auth-auth-service"]
    )
    assert outputs["auth_migration_security_group_id"]["value"] == ref(
        "aws_security_group", groups[f"checkins-{env}-auth-auth-migration"]
    )
    assert "master_user_secret[0].secret_arn" in outputs["database_master_secret_arn"]["value"]
    assert "database_reader_address" not in outputs
