"""The cleanup job's archive: a `SecureBucket` (SSE-KMS with the data key and a bucket key,
versioning, public access blocked, ownership enforced, TLS-only policy) that moves objects to a
colder storage class, optionally expires them, and locks every object version (S3 Object Lock)
where asked. Its server access logs go to an SSE-S3 log bucket."""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct

from modules.aws_target import AwsTarget
from modules.policy import Statement
from modules.props import check_arn, require
from modules.secure_bucket import (
    AccessLogTarget,
    ObjectLock,
    SecureBucket,
    SecureBucketProps,
    Transition,
)

DEFAULT_TRANSITION = Transition(days=30, storage_class="GLACIER_IR")
DEFAULT_OBJECT_LOCK = ObjectLock(mode="GOVERNANCE", days=365)


@dataclass(frozen=True)
class ArchiveBucketProps:
    """Props of `ArchiveBucket`."""

    bucket_name: str
    target: AwsTarget
    kms_key_arn: str
    """Customer-managed key of SSE-KMS; its policy must admit S3 for this bucket
    (`ArchiveBucket.key_policy_statements`)."""
    access_logs: AccessLogTarget | None
    """Server access logging target; None only with a written reason at the call site."""
    transition: Transition | None = DEFAULT_TRANSITION
    """Move objects to a colder class; None keeps them in STANDARD. @default GLACIER_IR after 30
    days"""
    expire_after_days: int | None = None
    """Delete objects after this many days; None keeps them for ever. @default None"""
    object_lock: ObjectLock | None = DEFAULT_OBJECT_LOCK
    """Default retention of every object version. The job never overwrites an archive object
    (its key is the hash of its content) and never deletes one, so a lock costs it nothing. Opt
    out with None (a throw-away environment). @default GOVERNANCE, 365 days"""
    noncurrent_version_days: int = 90
    """Superseded versions (rewritten day manifests) expire after this many days, or when their
    lock ends if later. @default 90"""
    prevent_destroy: bool = True
    """@default True"""

    def __post_init__(self) -> None:
        check_arn(
            "ArchiveBucketProps.kms_key_arn", self.kms_key_arn, service="kms", resource="key/"
        )
        require(
            self.expire_after_days is None or self.expire_after_days >= 1,
            "ArchiveBucketProps.expire_after_days",
            self.expire_after_days,
            "must be at least 1",
        )


class ArchiveBucket(Construct):
    """Attributes: `bucket_name`, `bucket_arn`, `bucket_id`, `kms_key_arn`.
    Grants: `cleanup_job_statements(archive_prefix, manifest_prefix)`."""

    def __init__(self, scope: Construct, id_: str, props: ArchiveBucketProps) -> None:
        super().__init__(scope, id_)
        self.bucket = SecureBucket(
            self,
            "bucket",
            SecureBucketProps(
                bucket_name=props.bucket_name,
                target=props.target,
                kms_key_arn=props.kms_key_arn,
                noncurrent_version_days=props.noncurrent_version_days,
                expire_current_after_days=props.expire_after_days,
                access_logs=props.access_logs,
                transitions=(props.transition,) if props.transition else (),
                object_lock=props.object_lock,
                prevent_destroy=props.prevent_destroy,
            ),
        )
        self.bucket_name: str = self.bucket.bucket_name
        self.bucket_arn: str = self.bucket.bucket_arn
        self.bucket_id: str = self.bucket.bucket_id
        self.kms_key_arn: str = props.kms_key_arn
        self._target = props.target

    @staticmethod
    def key_policy_statements(target: AwsTarget, bucket_name: str) -> tuple[Statement, ...]:
        """For the key's policy (the key exists before the bucket, so from the name): principals
        of this account may use the key through S3, for this bucket's objects only. Who may read
        or write them is then decided by S3 permissions alone."""
        bucket_arn = target.arn("s3", bucket_name)
        return (
            Statement(
                sid="AccountUsesKeyThroughS3ForArchive",
                # In a key policy the resource "*" means "this key": there is no narrower form.
                principals={"AWS": "*"},
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],
                conditions={
                    "StringEquals": {
                        "kms:CallerAccount": target.account_id,
                        "kms:ViaService": target.service_principal("s3"),
                    },
                    # With an S3 bucket key the context is the bucket's ARN, without one the
                    # object's.
                    "StringLike": {
                        "kms:EncryptionContext:aws:s3:arn": [bucket_arn, f"{bucket_arn}/*"]
                    },
                },
            ),
        )

    def cleanup_job_statements(
        self, archive_prefix: str = "checkins", manifest_prefix: str = "manifests/checkins"
    ) -> tuple[Statement, ...]:
        """What the cleanup job calls (lambda/cleanup_job/s3store.py), on its two prefixes only:
        PutObject, multipart uploads (Create/UploadPart/Complete are PutObject, Abort is its
        own action), HeadObject/GetObject (verify, read-back, restore), ListObjectsV2 and
        ListMultipartUploads on its prefixes; and the key, through S3 for this bucket. No
        delete: the job never deletes an archive object (and Object Lock would refuse it)."""
        named = (("archive_prefix", archive_prefix), ("manifest_prefix", manifest_prefix))
        for name, prefix in named:
            require(
                bool(prefix) and not prefix.startswith("/") and not prefix.endswith("/"),
                f"ArchiveBucket.cleanup_job_statements.{name}",
                prefix,
                "must be a non-empty key prefix without leading or trailing /",
            )
        objects = [f"{self.bucket_arn}/{p}/*" for p in (archive_prefix, manifest_prefix)]
        prefixes = [f"{archive_prefix}/*", f"{manifest_prefix}/*"]
        return (
            Statement(
                sid="CleanupWritesAndReadsArchive",
                actions=["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"],
                resources=objects,
            ),
            Statement(
                sid="CleanupListsItsPrefixes",
                actions=["s3:ListBucket"],
                resources=[self.bucket_arn],
                conditions={"StringLike": {"s3:prefix": prefixes}},
            ),
            # s3:prefix is a condition key of ListBucket only: a ListMultipartUploads request
            # never carries it, so a condition on it would deny every call. It names the keys
            # of uploads in progress, nothing of their content.
            Statement(
                sid="CleanupFindsItsStaleUploads",
                actions=["s3:ListBucketMultipartUploads"],
                resources=[self.bucket_arn],
            ),
            Statement(
                sid="CleanupUsesArchiveKeyThroughS3",
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=[self.kms_key_arn],
                conditions={
                    "StringEquals": {"kms:ViaService": self._target.service_principal("s3")},
                    "StringLike": {"kms:EncryptionContext:aws:s3:arn": [self.bucket_arn, *objects]},
                },
            ),
        )
