"""Remote state: every environment stack uses the S3 backend; the bootstrap stack creates it."""

from __future__ import annotations

import json

import pytest

from tests.infra.helpers import ENVIRONMENTS, one, policy, ref


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_environment_state_lives_in_s3_with_kms_and_native_lockfile(synthesized, env):
    backend = synthesized.stacks[env]["terraform"]["backend"]

    assert backend == {
        "s3": {
            "bucket": "checkins-tfstate-111122223333",
            "key": f"checkins/{env}/terraform.tfstate",
            "region": "eu-west-1",
            "encrypt": True,
            "kms_key_id": "arn:aws:kms:eu-west-1:111122223333:alias/checkins-tfstate",
            "use_lockfile": True,
        }
    }


def test_every_environment_has_its_own_state_key(synthesized):
    keys = [synthesized.stacks[e]["terraform"]["backend"]["s3"]["key"] for e in ENVIRONMENTS]

    assert len(set(keys)) == len(keys)


def test_bootstrap_stack_keeps_local_state(synthesized):
    backend = synthesized.stacks["state-bootstrap"]["terraform"]["backend"]

    assert list(backend) == ["local"]


def _state_bucket(synthesized):
    buckets = synthesized.resources("state-bootstrap", "aws_s3_bucket")
    key, body = next(
        (k, b) for k, b in buckets.items() if b["bucket"] == "checkins-tfstate-111122223333"
    )
    return key, body


def _for_bucket(synthesized, resource_type, bucket_key):
    matches = {
        k: b
        for k, b in synthesized.resources("state-bootstrap", resource_type).items()
        if b["bucket"] == ref("aws_s3_bucket", bucket_key)
    }
    return one(matches)


def test_state_key_rotates_and_has_an_alias_matching_the_backend(synthesized):
    key = one(synthesized.resources("state-bootstrap", "aws_kms_key"))
    alias = one(synthesized.resources("state-bootstrap", "aws_kms_alias"))

    assert key["enable_key_rotation"] is True
    assert key["deletion_window_in_days"] == 30
    assert alias["name"] == "alias/checkins-tfstate"


def test_state_bucket_is_versioned(synthesized):
    bucket_key, _ = _state_bucket(synthesized)
    versioning = _for_bucket(synthesized, "aws_s3_bucket_versioning", bucket_key)

    assert versioning["versioning_configuration"]["status"] == "Enabled"


def test_state_bucket_uses_sse_kms_with_the_state_key_and_a_bucket_key(synthesized):
    bucket_key, _ = _state_bucket(synthesized)
    sse = _for_bucket(synthesized, "aws_s3_bucket_server_side_encryption_configuration", bucket_key)
    kms_key_id = next(iter(synthesized.resources("state-bootstrap", "aws_kms_key")))

    (rule,) = sse["rule"]
    assert rule["apply_server_side_encryption_by_default"] == {
        "sse_algorithm": "aws:kms",
        "kms_master_key_id": ref("aws_kms_key", kms_key_id, "arn"),
    }
    assert rule["bucket_key_enabled"] is True


def test_state_bucket_blocks_all_public_access(synthesized):
    bucket_key, _ = _state_bucket(synthesized)
    block = _for_bucket(synthesized, "aws_s3_bucket_public_access_block", bucket_key)

    for setting in (
        "block_public_acls",
        "block_public_policy",
        "ignore_public_acls",
        "restrict_public_buckets",
    ):
        assert block[setting] is True, setting


def test_state_bucket_enforces_bucket_owner(synthesized):
    bucket_key, _ = _state_bucket(synthesized)
    ownership = _for_bucket(synthesized, "aws_s3_bucket_ownership_controls", bucket_key)

    assert ownership["rule"]["object_ownership"] == "BucketOwnerEnforced"


def test_state_bucket_policy_denies_non_tls_and_old_tls(synthesized):
    bucket_key, _ = _state_bucket(synthesized)
    document = policy(_for_bucket(synthesized, "aws_s3_bucket_policy", bucket_key))
    denials = {s["Sid"]: s for s in document["Statement"] if s["Effect"] == "Deny"}

    arn = "arn:aws:s3:::checkins-tfstate-111122223333"
    assert denials["DenyInsecureTransport"]["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}
    }
    assert denials["DenyInsecureTransport"]["Resource"] == [arn, f"{arn}/*"]
    assert denials["DenyTlsBelow12"]["Condition"] == {"NumericLessThan": {"s3:TlsVersion": "1.2"}}


def test_state_bucket_expires_old_noncurrent_versions(synthesized):
    bucket_key, _ = _state_bucket(synthesized)
    lifecycle = _for_bucket(synthesized, "aws_s3_bucket_lifecycle_configuration", bucket_key)
    rules = {r["id"]: r for r in lifecycle["rule"]}

    expiry = rules["expire-noncurrent-versions"]
    assert expiry["status"] == "Enabled"
    assert expiry["noncurrent_version_expiration"] == [{"noncurrent_days": 90}]
    # The current state version never expires: only delete markers with nothing behind them.
    assert expiry["expiration"] == [{"expired_object_delete_marker": True}]


def _log_bucket_key(synthesized):
    buckets = synthesized.resources("state-bootstrap", "aws_s3_bucket")
    return next(k for k, b in buckets.items() if b["bucket"].endswith("-access-logs"))


def test_state_bucket_access_is_logged_to_the_log_bucket_once_it_admits_log_delivery(synthesized):
    # A literal target let logging run before the log bucket's policy: a first apply failed
    # with InvalidTargetBucketForLogging.
    bucket_key, _ = _state_bucket(synthesized)
    log_key = _log_bucket_key(synthesized)
    logging = _for_bucket(synthesized, "aws_s3_bucket_logging", bucket_key)
    (log_policy,) = [
        k
        for k, b in synthesized.resources("state-bootstrap", "aws_s3_bucket_policy").items()
        if b["bucket"] == ref("aws_s3_bucket", log_key)
    ]

    assert logging["target_bucket"] == ref("aws_s3_bucket", log_key)
    assert logging["depends_on"] == [f"aws_s3_bucket_policy.{log_policy}"]
    assert logging["target_prefix"] == "state-bucket/"


def test_state_key_and_both_buckets_refuse_destroy(synthesized):
    key = one(synthesized.resources("state-bootstrap", "aws_kms_key"))
    buckets = synthesized.resources("state-bootstrap", "aws_s3_bucket")

    assert key["lifecycle"] == {"prevent_destroy": True}
    assert len(buckets) == 2
    for bucket in buckets.values():
        assert bucket["lifecycle"] == {"prevent_destroy": True}, bucket["bucket"]


def test_state_key_is_usable_only_through_s3_and_still_administered_by_the_account(synthesized):
    document = policy(one(synthesized.resources("state-bootstrap", "aws_kms_key")))
    statements = {s["Sid"]: s for s in document["Statement"]}
    admin = statements["AccountAdministersKey"]
    via = statements["AccountUsesKeyThroughServices"]

    assert admin["Principal"] == {"AWS": "arn:aws:iam::111122223333:root"}
    # The account can still change the policy, rotate, disable and schedule deletion...
    for action in ("kms:Put*", "kms:Describe*", "kms:Get*", "kms:Enable*", "kms:Disable*", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion"):  # fmt: skip
        assert action in admin["Action"], action
    # ...but no IAM policy of the account can grant direct cryptographic use.
    assert not {"kms:*", "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*"} & set(
        admin["Action"]
    )
    assert via["Condition"]["StringEquals"] == {
        "kms:CallerAccount": "111122223333",
        "kms:ViaService": ["s3.eu-west-1.amazonaws.com"],
    }
    assert set(statements) == {"AccountAdministersKey", "AccountUsesKeyThroughServices"}


def test_state_bucket_lifecycle_waits_for_versioning(synthesized):
    bucket_key, _ = _state_bucket(synthesized)
    lifecycle = _for_bucket(synthesized, "aws_s3_bucket_lifecycle_configuration", bucket_key)
    versioning_key = next(
        k
        for k, b in synthesized.resources("state-bootstrap", "aws_s3_bucket_versioning").items()
        if b["bucket"] == ref("aws_s3_bucket", bucket_key)
    )

    assert lifecycle["depends_on"] == [f"aws_s3_bucket_versioning.{versioning_key}"]


def test_lock_file_versions_and_delete_markers_expire_for_every_stack(synthesized):
    bucket_key, _ = _state_bucket(synthesized)
    lifecycle = _for_bucket(synthesized, "aws_s3_bucket_lifecycle_configuration", bucket_key)
    by_prefix = {r["filter"][0]["prefix"]: r for r in lifecycle["rule"]}

    for stack in ("state-bootstrap", *ENVIRONMENTS):
        rule = by_prefix[f"checkins/{stack}/terraform.tfstate.tflock"]
        assert rule["noncurrent_version_expiration"] == [{"noncurrent_days": 1}], stack
        assert rule["expiration"] == [{"expired_object_delete_marker": True}], stack
    assert by_prefix[""]["expiration"] == [{"expired_object_delete_marker": True}]


def test_project_account_blocks_public_s3_access_from_the_bootstrap_stack_only(synthesized):
    block = one(synthesized.resources("state-bootstrap", "aws_s3_account_public_access_block"))

    assert block == {
        **block,
        "account_id": "111122223333",
        "block_public_acls": True,
        "block_public_policy": True,
        "ignore_public_acls": True,
        "restrict_public_buckets": True,
    }
    for env in ENVIRONMENTS:  # same account: a second one would fight over the same setting
        assert synthesized.resources(env, "aws_s3_account_public_access_block") == {}


def test_bootstrap_state_moves_into_its_bucket_when_switched_on(platform_config):
    import toolchain

    toolchain.prepare()
    from cdktf import Testing

    from stacks.app import build_app

    state = platform_config.project.state.model_copy(update={"bootstrap_state_in_bucket": True})
    project = platform_config.project.model_copy(update={"state": state})
    app, _ = build_app(platform_config.model_copy(update={"project": project}))
    stack = app.node.find_child("state-bootstrap")
    backend = json.loads(Testing.synth(stack))["terraform"]["backend"]

    assert backend == {
        "s3": {
            "bucket": "checkins-tfstate-111122223333",
            "key": "checkins/state-bootstrap/terraform.tfstate",
            "region": "eu-west-1",
            "encrypt": True,
            "kms_key_id": "arn:aws:kms:eu-west-1:111122223333:alias/checkins-tfstate",
            "use_lockfile": True,
        }
    }


def test_log_bucket_accepts_only_s3_log_delivery_for_the_state_bucket(synthesized):
    log_key = _log_bucket_key(synthesized)
    document = policy(_for_bucket(synthesized, "aws_s3_bucket_policy", log_key))
    (delivery,) = [s for s in document["Statement"] if s["Effect"] == "Allow"]

    assert delivery["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert delivery["Action"] == "s3:PutObject"
    assert delivery["Condition"]["ArnLike"] == {
        "aws:SourceArn": "arn:aws:s3:::checkins-tfstate-111122223333"
    }
    assert delivery["Condition"]["StringEquals"] == {"aws:SourceAccount": "111122223333"}
