"""Remote state: every environment stack uses the S3 backend; the bootstrap stack creates it."""

from __future__ import annotations

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
    assert "expiration" not in expiry  # the current state version never expires


def test_state_bucket_access_is_logged_to_the_log_bucket(synthesized):
    bucket_key, _ = _state_bucket(synthesized)
    logging = _for_bucket(synthesized, "aws_s3_bucket_logging", bucket_key)

    assert logging["target_bucket"] == "checkins-tfstate-111122223333-access-logs"
    assert logging["target_prefix"] == "state-bucket/"


def test_log_bucket_accepts_only_s3_log_delivery_for_the_state_bucket(synthesized):
    buckets = synthesized.resources("state-bootstrap", "aws_s3_bucket")
    log_key = next(k for k, b in buckets.items() if b["bucket"].endswith("-access-logs"))
    document = policy(_for_bucket(synthesized, "aws_s3_bucket_policy", log_key))
    (delivery,) = [s for s in document["Statement"] if s["Effect"] == "Allow"]

    assert delivery["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert delivery["Action"] == "s3:PutObject"
    assert delivery["Condition"]["ArnLike"] == {
        "aws:SourceArn": "arn:aws:s3:::checkins-tfstate-111122223333"
    }
    assert delivery["Condition"]["StringEquals"] == {"aws:SourceAccount": "111122223333"}
