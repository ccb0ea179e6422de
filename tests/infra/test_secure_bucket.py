"""The SecureBucket construct on a bare stack: the secure defaults every bucket shares."""

from __future__ import annotations

from dataclasses import replace

import pytest

from modules.aws_target import AwsTarget
from modules.policy import Statement
from modules.props import PropsError
from modules.secure_bucket import AccessLogTarget, SecureBucketProps
from tests.infra.conftest import synth_construct
from tests.infra.helpers import one, policy

TARGET = AwsTarget(account_id="111122223333", region="eu-west-1")
KEY = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def _props(**overrides) -> SecureBucketProps:
    return replace(
        SecureBucketProps(bucket_name="app-test-bucket", target=TARGET, kms_key_arn=KEY),
        **overrides,
    )


@pytest.fixture(scope="module")
def built():
    from modules.secure_bucket import SecureBucket

    variants = {
        "kms": _props(),
        "sse-s3": _props(
            kms_key_arn=None,
            expire_current_after_days=30,
            access_logs=AccessLogTarget(bucket_name="app-logs", prefix="b/"),
            extra_statements=(Statement(sid="Extra", actions=["s3:GetObject"], principals={"Service": "x.amazonaws.com"}, resources=["arn:aws:s3:::app-test-bucket/*"]),),
        ),
    }  # fmt: skip
    return {
        name: synth_construct(lambda stack, p=props: SecureBucket(stack, "bucket", p))
        for name, props in variants.items()
    }


def test_bucket_arn_is_exposed_from_the_target_partition(built):
    construct, _ = built["kms"]
    assert construct.bucket_arn == "arn:aws:s3:::app-test-bucket"
    assert construct.bucket_name == "app-test-bucket"


def test_versioned_and_public_access_fully_blocked(built):
    _, doc = built["kms"]
    versioning = one(doc.resources("aws_s3_bucket_versioning"))
    block = one(doc.resources("aws_s3_bucket_public_access_block"))

    assert versioning["versioning_configuration"] == {"status": "Enabled"}
    assert all(block[k] is True for k in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"))  # fmt: skip
    assert one(doc.resources("aws_s3_bucket_ownership_controls"))["rule"] == {
        "object_ownership": "BucketOwnerEnforced"
    }


def test_kms_encryption_with_a_bucket_key_or_sse_s3_when_no_key_is_given(built):
    (kms_rule,) = one(
        built["kms"][1].resources("aws_s3_bucket_server_side_encryption_configuration")
    )["rule"]
    (s3_rule,) = one(built["sse-s3"][1].resources("aws_s3_bucket_server_side_encryption_configuration"))["rule"]  # fmt: skip

    assert kms_rule["apply_server_side_encryption_by_default"] == {"sse_algorithm": "aws:kms", "kms_master_key_id": KEY}  # fmt: skip
    assert kms_rule["bucket_key_enabled"] is True
    assert s3_rule["apply_server_side_encryption_by_default"] == {"sse_algorithm": "AES256"}


def test_policy_denies_plain_http_and_tls_below_1_2_then_adds_extra_statements(built):
    sids = [s["Sid"] for s in policy(one(built["sse-s3"][1].resources("aws_s3_bucket_policy")))["Statement"]]  # fmt: skip
    assert sids == ["DenyInsecureTransport", "DenyTlsBelow12", "Extra"]


def test_lifecycle_expires_noncurrent_versions_and_current_objects_only_when_asked(built):
    kms_rules = {r["id"] for r in one(built["kms"][1].resources("aws_s3_bucket_lifecycle_configuration"))["rule"]}  # fmt: skip
    s3_rules = {r["id"] for r in one(built["sse-s3"][1].resources("aws_s3_bucket_lifecycle_configuration"))["rule"]}  # fmt: skip

    assert kms_rules == {"expire-noncurrent-versions"}
    assert s3_rules == {"expire-noncurrent-versions", "expire-current-objects"}


def test_access_logging_only_when_a_target_is_given(built):
    assert built["kms"][1].resources("aws_s3_bucket_logging") == {}
    logging = one(built["sse-s3"][1].resources("aws_s3_bucket_logging"))
    assert logging["target_prefix"] == "b/"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"bucket_name": "Bad_Name"}, "SecureBucketProps.bucket_name"),
        ({"noncurrent_version_days": 0}, "SecureBucketProps.noncurrent_version_days"),
    ],
)
def test_bad_props_fail_with_the_field_named(overrides, field):
    with pytest.raises(PropsError, match=f"^{field}: "):
        _props(**overrides)
