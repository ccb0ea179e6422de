"""The ArchiveBucket construct on a bare stack: the cleanup job's archive, its lifecycle, its
object lock and the job's least-privilege statements."""

from __future__ import annotations

from dataclasses import replace

import pytest

from modules.archive_bucket import ArchiveBucketProps
from modules.aws_target import AwsTarget
from modules.props import PropsError
from modules.secure_bucket import ObjectLock, SecureBucketProps, Transition
from tests.infra.conftest import synth_construct
from tests.infra.helpers import one, policy, ref

TARGET = AwsTarget(account_id="111122223333", region="eu-west-1")
KEY = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
BUCKET_ARN = "arn:aws:s3:::app-archive"


def _props(**overrides) -> ArchiveBucketProps:
    return replace(
        ArchiveBucketProps(
            bucket_name="app-archive", target=TARGET, kms_key_arn=KEY, access_logs=None
        ),
        **overrides,
    )


def _logged_unlocked(stack):
    from modules.archive_bucket import ArchiveBucket
    from modules.secure_bucket import AccessLogTarget, SecureBucket

    logs = SecureBucket(
        stack, "logs", SecureBucketProps(bucket_name="app-logs", target=TARGET, kms_key_arn=None)
    )
    return ArchiveBucket(
        stack,
        "archive",
        _props(
            access_logs=AccessLogTarget(bucket=logs, prefix="archive/"),
            object_lock=None,
            transition=Transition(days=30, storage_class="STANDARD_IA"),
            expire_after_days=400,
            prevent_destroy=False,
        ),
    )


@pytest.fixture(scope="module")
def built():
    from modules.archive_bucket import ArchiveBucket

    return {
        "default": synth_construct(lambda stack: ArchiveBucket(stack, "archive", _props())),
        "opted-out": synth_construct(_logged_unlocked),
    }


def _own(doc, resource_type):
    (body,) = [b for k, b in doc.resources(resource_type).items() if k.startswith("archive_")]
    return body


def test_encrypted_with_the_given_key_and_a_bucket_key(built):
    (rule,) = one(built["default"][1].resources("aws_s3_bucket_server_side_encryption_configuration"))["rule"]  # fmt: skip
    assert rule["apply_server_side_encryption_by_default"] == {"sse_algorithm": "aws:kms", "kms_master_key_id": KEY}  # fmt: skip
    assert rule["bucket_key_enabled"] is True


def test_object_lock_is_on_by_default_in_governance_mode_enabled_at_creation(built):
    _, doc = built["default"]
    assert one(doc.resources("aws_s3_bucket"))["object_lock_enabled"] is True
    lock = one(doc.resources("aws_s3_bucket_object_lock_configuration"))
    (versioning,) = doc.resources("aws_s3_bucket_versioning")

    assert lock["rule"] == {"default_retention": {"mode": "GOVERNANCE", "days": 365}}
    (bucket,) = doc.resources("aws_s3_bucket")
    assert lock["bucket"] == ref("aws_s3_bucket", bucket)
    assert lock["depends_on"] == [f"aws_s3_bucket_versioning.{versioning}"]


def test_object_lock_opted_out_leaves_no_lock_at_all(built):
    _, doc = built["opted-out"]
    assert "object_lock_enabled" not in _own(doc, "aws_s3_bucket")
    assert doc.resources("aws_s3_bucket_object_lock_configuration") == {}


def test_objects_move_to_a_colder_class_and_never_expire_by_default(built):
    rules = {r["id"]: r for r in one(built["default"][1].resources("aws_s3_bucket_lifecycle_configuration"))["rule"]}  # fmt: skip
    assert rules["transition-current-objects"]["transition"] == [{"days": 30, "storage_class": "GLACIER_IR"}]  # fmt: skip
    assert "expire-current-objects" not in rules


def test_expiry_only_when_asked(built):
    rules = {r["id"]: r for r in _own(built["opted-out"][1], "aws_s3_bucket_lifecycle_configuration")["rule"]}  # fmt: skip
    assert rules["expire-current-objects"]["expiration"] == [{"days": 400}]
    assert rules["transition-current-objects"]["transition"] == [{"days": 30, "storage_class": "STANDARD_IA"}]  # fmt: skip


def test_public_access_blocked_ownership_enforced_tls_only(built):
    _, doc = built["default"]
    block = one(doc.resources("aws_s3_bucket_public_access_block"))
    sids = [s["Sid"] for s in policy(one(doc.resources("aws_s3_bucket_policy")))["Statement"]]

    assert all(block[k] is True for k in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"))  # fmt: skip
    assert one(doc.resources("aws_s3_bucket_ownership_controls"))["rule"] == {"object_ownership": "BucketOwnerEnforced"}  # fmt: skip
    assert sids == ["DenyInsecureTransport", "DenyTlsBelow12"]


def test_access_logs_go_to_the_log_bucket_under_the_archive_prefix(built):
    assert built["default"][1].resources("aws_s3_bucket_logging") == {}
    logging = one(built["opted-out"][1].resources("aws_s3_bucket_logging"))
    assert logging["target_prefix"] == "archive/"


def test_cleanup_job_may_write_and_read_its_prefixes_only_and_never_delete(built):
    construct, _ = built["default"]
    statements = {s.sid: s.render() for s in construct.cleanup_job_statements()}
    objects = statements["CleanupWritesAndReadsArchive"]

    assert objects["Resource"] == [f"{BUCKET_ARN}/checkins/*", f"{BUCKET_ARN}/manifests/checkins/*"]
    assert objects["Action"] == ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"]
    assert statements["CleanupListsItsPrefixes"]["Condition"] == {
        "StringLike": {"s3:prefix": ["checkins/*", "manifests/checkins/*"]}
    }
    actions = [a for s in statements.values() for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])]  # fmt: skip
    assert not [a for a in actions if "Delete" in a or a.endswith("*")]
    resources = [r for s in statements.values() for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])]  # fmt: skip
    assert "*" not in resources


def test_cleanup_job_uses_the_key_only_through_s3_for_this_bucket(built):
    construct, _ = built["default"]
    (kms,) = [s.render() for s in construct.cleanup_job_statements() if s.sid.endswith("ThroughS3")]

    assert kms["Resource"] == KEY
    assert kms["Condition"]["StringEquals"] == {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}
    assert BUCKET_ARN in kms["Condition"]["StringLike"]["kms:EncryptionContext:aws:s3:arn"]


def test_key_policy_statement_admits_s3_for_this_bucket_only():
    from modules.archive_bucket import ArchiveBucket

    (statement,) = [s.render() for s in ArchiveBucket.key_policy_statements(TARGET, "app-archive")]
    assert statement["Condition"] == {
        "StringEquals": {
            "kms:CallerAccount": "111122223333",
            "kms:ViaService": "s3.eu-west-1.amazonaws.com",
        },
        "StringLike": {"kms:EncryptionContext:aws:s3:arn": [BUCKET_ARN, f"{BUCKET_ARN}/*"]},
    }


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: _props(kms_key_arn="alias/data"), "ArchiveBucketProps.kms_key_arn"),
        (lambda: _props(expire_after_days=0), "ArchiveBucketProps.expire_after_days"),
        (lambda: _props(expire_after_days=20), "SecureBucketProps.expire_current_after_days"),
        (
            lambda: _props(object_lock=None, expire_after_days=30),
            "SecureBucketProps.expire_current_after_days",
        ),
        (lambda: Transition(days=10, storage_class="STANDARD_IA"), "Transition.days"),
        (lambda: Transition(days=10, storage_class="RRS"), "Transition.storage_class"),
        (lambda: ObjectLock(mode="STRICT", days=1), "ObjectLock.mode"),
        (lambda: ObjectLock(mode="GOVERNANCE", days=0), "ObjectLock.days"),
        (lambda: ObjectLock(mode="GOVERNANCE", days=36501), "ObjectLock.days"),
    ],
)
def test_bad_props_fail_with_the_field_named(build, field):
    from modules.archive_bucket import ArchiveBucket

    def construct():
        props = build()
        if isinstance(props, ArchiveBucketProps):
            # The SecureBucketProps checks run when the construct maps its props.
            synth_construct(lambda stack: ArchiveBucket(stack, "archive", props))

    with pytest.raises(PropsError, match=f"^{field}: "):
        construct()


def test_bad_cleanup_prefix_fails_with_the_argument_named(built):
    construct, _ = built["default"]
    with pytest.raises(PropsError, match="archive_prefix"):
        construct.cleanup_job_statements(archive_prefix="checkins/")
