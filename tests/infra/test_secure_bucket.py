"""The SecureBucket construct on a bare stack: the secure defaults every bucket shares."""

from __future__ import annotations

from dataclasses import replace

import pytest

from modules.aws_target import AwsTarget
from modules.policy import Statement
from modules.props import PropsError
from modules.secure_bucket import AccessLogTarget, SecureBucketProps
from tests.infra.conftest import synth_construct
from tests.infra.helpers import one, policy, ref

TARGET = AwsTarget(account_id="111122223333", region="eu-west-1")
KEY = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def _props(**overrides) -> SecureBucketProps:
    return replace(
        SecureBucketProps(bucket_name="app-test-bucket", target=TARGET, kms_key_arn=KEY),
        **overrides,
    )


def _logged(stack):
    """A bucket logging to another SecureBucket of the same stack."""
    from modules.secure_bucket import SecureBucket

    logs = SecureBucket(stack, "logs", _props(bucket_name="app-logs", kms_key_arn=None))
    return SecureBucket(
        stack,
        "bucket",
        _props(
            kms_key_arn=None,
            expire_current_after_days=30,
            access_logs=AccessLogTarget(bucket=logs, prefix="b/"),
            extra_statements=(Statement(sid="Extra", actions=["s3:GetObject"], principals={"Service": "x.amazonaws.com"}, resources=["arn:aws:s3:::app-test-bucket/*"]),),
            transient_prefixes=("state/a.tflock", "state/b.tflock"),
            prevent_destroy=False,
        ),
    )  # fmt: skip


@pytest.fixture(scope="module")
def built():
    from modules.secure_bucket import SecureBucket

    return {
        "kms": synth_construct(lambda stack: SecureBucket(stack, "bucket", _props())),
        "sse-s3": synth_construct(_logged),
    }


def _own(doc, resource_type, construct_id="bucket"):
    """The resource of `resource_type` inside the construct `construct_id`."""
    (body,) = [
        b for k, b in doc.resources(resource_type).items() if k.startswith(f"{construct_id}_")
    ]
    return body


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
    (s3_rule,) = _own(built["sse-s3"][1], "aws_s3_bucket_server_side_encryption_configuration")["rule"]  # fmt: skip

    assert kms_rule["apply_server_side_encryption_by_default"] == {"sse_algorithm": "aws:kms", "kms_master_key_id": KEY}  # fmt: skip
    assert kms_rule["bucket_key_enabled"] is True
    assert s3_rule["apply_server_side_encryption_by_default"] == {"sse_algorithm": "AES256"}


def test_policy_denies_plain_http_and_tls_below_1_2_then_adds_extra_statements(built):
    sids = [s["Sid"] for s in policy(_own(built["sse-s3"][1], "aws_s3_bucket_policy"))["Statement"]]  # fmt: skip
    assert sids == ["DenyInsecureTransport", "DenyTlsBelow12", "Extra"]


def test_lifecycle_expires_noncurrent_versions_and_current_objects_only_when_asked(built):
    kms_rules = {r["id"] for r in one(built["kms"][1].resources("aws_s3_bucket_lifecycle_configuration"))["rule"]}  # fmt: skip
    s3_rules = {r["id"] for r in _own(built["sse-s3"][1], "aws_s3_bucket_lifecycle_configuration")["rule"]}  # fmt: skip

    assert kms_rules == {"expire-noncurrent-versions"}
    assert s3_rules == {
        "expire-noncurrent-versions",
        "expire-current-objects",
        "expire-transient-state-a.tflock",
        "expire-transient-state-b.tflock",
    }


def test_lifecycle_waits_for_versioning(built):
    _, doc = built["kms"]
    lifecycle = one(doc.resources("aws_s3_bucket_lifecycle_configuration"))
    (versioning,) = doc.resources("aws_s3_bucket_versioning")

    assert lifecycle["depends_on"] == [f"aws_s3_bucket_versioning.{versioning}"]


def test_delete_markers_left_by_expired_versions_are_removed(built):
    rules = {r["id"]: r for r in one(built["kms"][1].resources("aws_s3_bucket_lifecycle_configuration"))["rule"]}  # fmt: skip

    assert rules["expire-noncurrent-versions"]["expiration"] == [
        {"expired_object_delete_marker": True}
    ]


def test_transient_objects_lose_old_versions_after_a_day_then_their_delete_markers(built):
    rules = {r["id"]: r for r in _own(built["sse-s3"][1], "aws_s3_bucket_lifecycle_configuration")["rule"]}  # fmt: skip
    lock = rules["expire-transient-state-a.tflock"]

    assert lock["filter"] == [{"prefix": "state/a.tflock"}]
    assert lock["noncurrent_version_expiration"] == [{"noncurrent_days": 1}]
    assert lock["expiration"] == [{"expired_object_delete_marker": True}]
    assert lock["status"] == "Enabled"


def test_bucket_is_protected_from_destroy_unless_opted_out(built):
    assert one(built["kms"][1].resources("aws_s3_bucket"))["lifecycle"] == {"prevent_destroy": True}
    assert "lifecycle" not in _own(built["sse-s3"][1], "aws_s3_bucket")


def test_access_logging_only_when_a_target_is_given(built):
    assert built["kms"][1].resources("aws_s3_bucket_logging") == {}
    logging = one(built["sse-s3"][1].resources("aws_s3_bucket_logging"))
    assert logging["target_prefix"] == "b/"


def test_access_logging_references_the_target_and_waits_for_its_policy(built):
    # A literal target name let logging run before the target admitted S3's log delivery:
    # InvalidTargetBucketForLogging on a first apply.
    construct, doc = built["sse-s3"]
    logging = one(doc.resources("aws_s3_bucket_logging"))
    (log_bucket,) = [k for k in doc.resources("aws_s3_bucket") if k.startswith("logs_")]
    (log_policy,) = [k for k in doc.resources("aws_s3_bucket_policy") if k.startswith("logs_")]

    assert logging["target_bucket"] == ref("aws_s3_bucket", log_bucket)
    assert logging["depends_on"] == [f"aws_s3_bucket_policy.{log_policy}"]
    assert construct.policy is not None and construct.bucket_id.startswith("${")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"bucket_name": "Bad_Name"}, "SecureBucketProps.bucket_name"),
        ({"noncurrent_version_days": 0}, "SecureBucketProps.noncurrent_version_days"),
        ({"transient_prefixes": ("",)}, "SecureBucketProps.transient_prefixes"),
        ({"transient_prefixes": ("a", "a")}, "SecureBucketProps.transient_prefixes"),
    ],
)
def test_bad_props_fail_with_the_field_named(overrides, field):
    with pytest.raises(PropsError, match=f"^{field}: "):
        _props(**overrides)
