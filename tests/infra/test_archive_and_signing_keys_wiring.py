"""Whole-app wiring of the archive bucket and the signing-key secret: configuration reaches
them (dev and prod differ where they should), the data key admits S3 for the archive, the
rotation function is wired to the secret, the network and the keys. Construct behaviour is
tested in test_archive_bucket.py, test_signing_key_secret.py and test_lambda_function.py."""

from __future__ import annotations

import json

import pytest

from tests.infra.helpers import ENVIRONMENTS, by_name_tag, one, policy, ref


def _archive(synthesized, env):
    return by_name_tag(synthesized.resources(env, "aws_s3_bucket"), f"checkins-{env}-archive-111122223333")  # fmt: skip


def _rules(synthesized, env, bucket_key):
    (lifecycle,) = [
        b
        for b in synthesized.resources(env, "aws_s3_bucket_lifecycle_configuration").values()
        if b["bucket"] == ref("aws_s3_bucket", bucket_key)
    ]
    return {r["id"]: r for r in lifecycle["rule"]}


def test_prod_archive_is_object_locked_in_governance_mode_and_never_expires(synthesized):
    key, bucket = _archive(synthesized, "prod")
    lock = one(synthesized.resources("prod", "aws_s3_bucket_object_lock_configuration"))
    rules = _rules(synthesized, "prod", key)

    assert bucket["object_lock_enabled"] is True
    assert lock["rule"] == {"default_retention": {"mode": "GOVERNANCE", "days": 365}}
    assert "expire-current-objects" not in rules
    assert rules["transition-current-objects"]["transition"] == [{"days": 30, "storage_class": "GLACIER_IR"}]  # fmt: skip
    assert bucket["lifecycle"] == {"prevent_destroy": True}


def test_dev_archive_is_unlocked_and_expires(synthesized):
    key, bucket = _archive(synthesized, "dev")
    assert "object_lock_enabled" not in bucket
    assert synthesized.resources("dev", "aws_s3_bucket_object_lock_configuration") == {}
    assert _rules(synthesized, "dev", key)["expire-current-objects"]["expiration"] == [{"days": 180}]  # fmt: skip


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_archive_is_encrypted_with_the_data_key_which_admits_s3_for_it_only(synthesized, env):
    key_id, data_key = by_name_tag(synthesized.resources(env, "aws_kms_key"), f"checkins-{env}-data")  # fmt: skip
    bucket_key, _ = _archive(synthesized, env)
    encryptions = synthesized.resources(env, "aws_s3_bucket_server_side_encryption_configuration")
    (encryption,) = [
        b for b in encryptions.values() if b["bucket"] == ref("aws_s3_bucket", bucket_key)
    ]
    s3 = {s["Sid"]: s for s in policy(data_key)["Statement"]}["AccountUsesKeyThroughS3ForArchive"]
    arn = f"arn:aws:s3:::checkins-{env}-archive-111122223333"

    (rule,) = encryption["rule"]
    assert rule["apply_server_side_encryption_by_default"]["kms_master_key_id"] == ref("aws_kms_key", key_id, "arn")  # fmt: skip
    assert s3["Condition"]["StringEquals"]["kms:ViaService"] == "s3.eu-west-1.amazonaws.com"
    assert s3["Condition"]["StringLike"] == {"kms:EncryptionContext:aws:s3:arn": [arn, f"{arn}/*"]}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_archive_access_logs_go_to_the_environments_sse_s3_log_bucket(synthesized, env):
    log_key, _ = by_name_tag(synthesized.resources(env, "aws_s3_bucket"), f"checkins-{env}-access-logs-111122223333")  # fmt: skip
    logging = one(synthesized.resources(env, "aws_s3_bucket_logging"))
    (log_policy,) = [
        b for b in synthesized.resources(env, "aws_s3_bucket_policy").values()
        if b["bucket"] == ref("aws_s3_bucket", log_key)
    ]  # fmt: skip
    delivery = {s["Sid"]: s for s in policy(log_policy)["Statement"]}["S3ServerAccessLogDelivery"]

    assert logging["target_bucket"] == ref("aws_s3_bucket", log_key)
    assert delivery["Condition"]["ArnLike"] == {"aws:SourceArn": f"arn:aws:s3:::checkins-{env}-archive-111122223333"}  # fmt: skip


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_signing_key_secret_uses_the_secrets_key_and_names_its_readers(synthesized, env):
    key_id, _ = by_name_tag(synthesized.resources(env, "aws_kms_key"), f"checkins-{env}-secrets")
    secret = one(synthesized.resources(env, "aws_secretsmanager_secret"))
    deny = policy(one(synthesized.resources(env, "aws_secretsmanager_secret_policy")))["Statement"][0]  # fmt: skip

    assert secret["name"] == f"checkins-{env}/auth/jwt-signing-keys"
    assert secret["kms_key_id"] == ref("aws_kms_key", key_id, "arn")
    assert synthesized.resources(env, "aws_secretsmanager_secret_version") == {}
    assert deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"] == [
        f"arn:aws:iam::111122223333:role/checkins-{env}-auth-task",
        f"arn:aws:iam::111122223333:role/checkins-{env}-jwt-key-rotation",
    ]
    assert synthesized.stacks[env]["output"]["auth_task_role_arn"]["value"] == f"arn:aws:iam::111122223333:role/checkins-{env}-auth-task"  # fmt: skip


@pytest.mark.parametrize(("env", "window"), [("dev", 7), ("prod", 30)])
def test_recovery_window_and_rotation_schedule_follow_the_configuration(synthesized, env, window):
    secret = one(synthesized.resources(env, "aws_secretsmanager_secret"))
    rotation = one(synthesized.resources(env, "aws_secretsmanager_secret_rotation"))
    assert secret["recovery_window_in_days"] == window
    assert rotation["rotation_rules"] == {"automatically_after_days": 30}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_rotation_function_runs_in_the_private_subnets_talking_to_the_endpoints_only(synthesized, env):  # fmt: skip
    fn = one(synthesized.resources(env, "aws_lambda_function"))
    private = sorted(k for k, s in synthesized.resources(env, "aws_subnet").items() if s["tags"]["Tier"] == "private")  # fmt: skip
    endpoints, _ = by_name_tag(synthesized.resources(env, "aws_security_group"), f"checkins-{env}-vpc-endpoints")  # fmt: skip
    (function_sg,) = fn["vpc_config"]["security_group_ids"]
    egress = one(
        {
            key: rule
            for key, rule in synthesized.resources(
                env, "aws_vpc_security_group_egress_rule"
            ).items()
            if rule["security_group_id"] == function_sg
        }
    )
    logs_key, _ = by_name_tag(synthesized.resources(env, "aws_kms_key"), f"checkins-{env}-logs")

    assert sorted(fn["vpc_config"]["subnet_ids"]) == sorted(ref("aws_subnet", k) for k in private)
    assert egress["referenced_security_group_id"] == ref("aws_security_group", endpoints)
    assert fn["kms_key_arn"] == ref("aws_kms_key", logs_key, "arn")
    assert fn["handler"] == "key_rotation.handler.handler"
    assert set(fn["environment"]["variables"]) == {
        "KEY_ROTATION_PUBLISH_DELAY_SECONDS", "KEY_ROTATION_RETIRE_AFTER_SECONDS", "KEY_ROTATION_LOG_LEVEL"
    }  # fmt: skip


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_rotation_role_acts_on_this_secret_only_and_wildcards_only_where_aws_has_nothing_narrower(synthesized, env):  # fmt: skip
    secret_key, _ = next(iter(synthesized.resources(env, "aws_secretsmanager_secret").items()))
    (role_policy,) = [p for p in synthesized.resources(env, "aws_iam_role_policy").values() if p["name"] == f"checkins-{env}-jwt-key-rotation"]  # fmt: skip
    statements = {s["Sid"]: s for s in policy(role_policy)["Statement"]}

    assert statements["RotatesSigningKeys"]["Resource"] == ref("aws_secretsmanager_secret", secret_key, "arn")  # fmt: skip
    assert {sid for sid, s in statements.items() if "*" in json.dumps(s.get("Resource"))} == {
        "SendsTraces", "ManagesItsNetworkInterfaces", "WritesItsOwnLogs"
    }  # fmt: skip
    assert statements["WritesItsOwnLogs"]["Resource"].endswith(f":log-group:/aws/lambda/checkins-{env}-jwt-key-rotation:log-stream:*")  # fmt: skip


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_package_is_shipped_with_the_stack_and_its_hash_is_the_zips(synthesized, env):
    import base64
    import hashlib

    fn = one(synthesized.resources(env, "aws_lambda_function"))
    data = (synthesized.outdir / "stacks" / env / fn["filename"]).read_bytes()
    assert fn["source_code_hash"] == base64.b64encode(hashlib.sha256(data).digest()).decode()
