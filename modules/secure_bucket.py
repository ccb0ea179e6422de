"""An S3 bucket with the secure defaults every bucket of the platform shares: versioning,
default encryption, all public access blocked, object ownership enforced (no ACLs), a policy that
denies anything but TLS 1.2+, lifecycle rules (noncurrent versions and leftover delete markers
expire), `prevent_destroy`, and optional server access logging, transitions to a colder
storage class and S3 Object Lock."""

from __future__ import annotations

import re
from dataclasses import dataclass

from cdktf import TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
from cdktf_cdktf_provider_aws.s3_bucket_lifecycle_configuration import (
    S3BucketLifecycleConfiguration,
    S3BucketLifecycleConfigurationRule,
    S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload,
    S3BucketLifecycleConfigurationRuleExpiration,
    S3BucketLifecycleConfigurationRuleFilter,
    S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration,
    S3BucketLifecycleConfigurationRuleTransition,
)
from cdktf_cdktf_provider_aws.s3_bucket_logging import S3BucketLoggingA
from cdktf_cdktf_provider_aws.s3_bucket_object_lock_configuration import (
    S3BucketObjectLockConfigurationA,
    S3BucketObjectLockConfigurationRuleA,
    S3BucketObjectLockConfigurationRuleDefaultRetentionA,
)
from cdktf_cdktf_provider_aws.s3_bucket_ownership_controls import (
    S3BucketOwnershipControls,
    S3BucketOwnershipControlsRule,
)
from cdktf_cdktf_provider_aws.s3_bucket_policy import S3BucketPolicy
from cdktf_cdktf_provider_aws.s3_bucket_public_access_block import S3BucketPublicAccessBlock
from cdktf_cdktf_provider_aws.s3_bucket_server_side_encryption_configuration import (
    S3BucketServerSideEncryptionConfigurationA,
    S3BucketServerSideEncryptionConfigurationRuleA,
    S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA,
)
from cdktf_cdktf_provider_aws.s3_bucket_versioning import (
    S3BucketVersioningA,
    S3BucketVersioningVersioningConfiguration,
)
from constructs import Construct

from modules.aws_target import AwsTarget
from modules.policy import Statement, policy_document
from modules.props import require
from modules.s3_limits import MAX_OBJECT_LOCK_DAYS, OBJECT_LOCK_MODES, TRANSITION_MIN_DAYS

_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")


# Noncurrent versions of transient objects (lock files) expire after a day: enough to look
# at a lock a crashed run left behind, short enough that none pile up.
TRANSIENT_NONCURRENT_DAYS = 1


@dataclass(frozen=True)
class AccessLogTarget:
    """Where S3 server access logs of a bucket go: another `SecureBucket` (SSE-S3, with a policy
    that admits `logging.s3.amazonaws.com`) and a key prefix in it."""

    bucket: SecureBucket
    prefix: str


def log_delivery_statement(
    target: AwsTarget, log_bucket_name: str, prefix: str, source_bucket_name: str
) -> Statement:
    """For a log bucket's policy: S3 server access logging may write the logs of
    `source_bucket_name` (of this account) under `prefix`."""
    return Statement(
        sid="S3ServerAccessLogDelivery",
        principals={"Service": "logging.s3.amazonaws.com"},
        actions=["s3:PutObject"],
        resources=[target.arn("s3", f"{log_bucket_name}/{prefix}*")],
        conditions={
            "StringEquals": {"aws:SourceAccount": target.account_id},
            "ArnLike": {"aws:SourceArn": target.arn("s3", source_bucket_name)},
        },
    )


@dataclass(frozen=True)
class Transition:
    """Current objects move to `storage_class` `days` after they were written."""

    days: int
    storage_class: str

    def __post_init__(self) -> None:
        require(
            self.storage_class in TRANSITION_MIN_DAYS,
            "Transition.storage_class",
            self.storage_class,
            f"must be one of {', '.join(TRANSITION_MIN_DAYS)}",
        )
        least = TRANSITION_MIN_DAYS[self.storage_class]
        require(
            self.days >= least,
            "Transition.days",
            self.days,
            f"S3 moves objects to {self.storage_class} after {least} days at the earliest",
        )


@dataclass(frozen=True)
class ObjectLock:
    """S3 Object Lock default retention of every new object version."""

    mode: str
    """`GOVERNANCE` (principals with `s3:BypassGovernanceRetention` may still delete) or
    `COMPLIANCE` (nobody may, not even the account root)."""
    days: int

    def __post_init__(self) -> None:
        require(
            self.mode in OBJECT_LOCK_MODES,
            "ObjectLock.mode",
            self.mode,
            f"must be one of {', '.join(OBJECT_LOCK_MODES)}",
        )
        require(
            1 <= self.days <= MAX_OBJECT_LOCK_DAYS,
            "ObjectLock.days",
            self.days,
            f"is outside 1..{MAX_OBJECT_LOCK_DAYS}",
        )


@dataclass(frozen=True)
class SecureBucketProps:
    """Props of `SecureBucket`."""

    bucket_name: str
    target: AwsTarget
    """The partition of the bucket's ARN."""
    kms_key_arn: str | None
    """Customer-managed key for SSE-KMS (with an S3 bucket key). None means SSE-S3, allowed only
    for buckets that AWS services cannot write with KMS (S3 server access log targets)."""
    noncurrent_version_days: int = 90
    """Superseded object versions expire after this many days. @default 90"""
    expire_current_after_days: int | None = None
    """Current objects expire after this many days; None keeps them. @default None"""
    access_logs: AccessLogTarget | None = None
    """Server access logging target; None only with a written reason at the call site."""
    extra_statements: tuple[Statement, ...] = ()
    """Statements added to the bucket policy after the TLS-only denials. @default ()"""
    transient_prefixes: tuple[str, ...] = ()
    """Key prefixes of objects written and deleted all the time (S3 native lock files): their
    noncurrent versions expire after `TRANSIENT_NONCURRENT_DAYS`, then their delete markers.
    @default ()"""
    transitions: tuple[Transition, ...] = ()
    """Current objects move to colder storage classes, in order of days. @default ()"""
    object_lock: ObjectLock | None = None
    """Object Lock, enabled when the bucket is created (enabling it later replaces the bucket),
    with this default retention. None: no object lock. @default None"""
    force_destroy: bool = False
    """Let `terraform destroy` delete a non-empty bucket. @default False"""
    prevent_destroy: bool = True
    """Terraform refuses to destroy the bucket (a plan that would fails). Opt out for
    throw-away buckets. @default True"""

    def __post_init__(self) -> None:
        require(
            _BUCKET_NAME.match(self.bucket_name) is not None,
            "SecureBucketProps.bucket_name",
            self.bucket_name,
            "is not a valid bucket name (3-63 of a-z, 0-9, -)",
        )
        require(
            self.noncurrent_version_days >= 1,
            "SecureBucketProps.noncurrent_version_days",
            self.noncurrent_version_days,
            "must be at least 1",
        )
        require(
            all(self.transient_prefixes)
            and len(set(self.transient_prefixes)) == len(self.transient_prefixes),
            "SecureBucketProps.transient_prefixes",
            self.transient_prefixes,
            "must be distinct and non-empty (an empty prefix is every object)",
        )
        days = [t.days for t in self.transitions]
        require(
            days == sorted(set(days)),
            "SecureBucketProps.transitions",
            self.transitions,
            "must be in increasing order of days, one per day",
        )
        expiry = self.expire_current_after_days
        require(
            expiry is None or not days or expiry > days[-1],
            "SecureBucketProps.expire_current_after_days",
            expiry,
            "must come after the last transition",
        )
        require(
            expiry is None or self.object_lock is None or expiry >= self.object_lock.days,
            "SecureBucketProps.expire_current_after_days",
            expiry,
            "is before the object lock retention ends",
        )


class SecureBucket(Construct):
    """Attributes: `bucket_name`, `bucket_arn`, `bucket_id` (a reference: depend on the bucket
    through it), `policy` (the bucket policy resource: depend on it where a service must be
    admitted first, e.g. an access-log target), `versioning` (the versioning resource)."""

    def __init__(self, scope: Construct, id_: str, props: SecureBucketProps) -> None:
        super().__init__(scope, id_)
        bucket = S3Bucket(
            self,
            "bucket",
            bucket=props.bucket_name,
            force_destroy=props.force_destroy,
            # Only settable at creation; None leaves the argument out (existing buckets unchanged).
            object_lock_enabled=True if props.object_lock else None,
            tags={"Name": props.bucket_name},
            lifecycle=TerraformResourceLifecycle(prevent_destroy=True)
            if props.prevent_destroy
            else None,
        )
        self.bucket_name: str = props.bucket_name
        self.bucket_arn: str = props.target.arn("s3", props.bucket_name)
        bucket_id = bucket.id
        self.bucket_id: str = bucket_id

        self.versioning = S3BucketVersioningA(
            self,
            "versioning",
            bucket=bucket_id,
            versioning_configuration=S3BucketVersioningVersioningConfiguration(status="Enabled"),
        )
        default = (
            S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                sse_algorithm="aws:kms", kms_master_key_id=props.kms_key_arn
            )
            if props.kms_key_arn
            else S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                sse_algorithm="AES256"
            )
        )
        S3BucketServerSideEncryptionConfigurationA(
            self,
            "encryption",
            bucket=bucket_id,
            rule=[
                S3BucketServerSideEncryptionConfigurationRuleA(
                    apply_server_side_encryption_by_default=default,
                    # The bucket key cuts KMS requests (and cost) by orders of magnitude.
                    bucket_key_enabled=bool(props.kms_key_arn),
                )
            ],
        )
        public_access = S3BucketPublicAccessBlock(
            self,
            "public-access",
            bucket=bucket_id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
        )
        S3BucketOwnershipControls(
            self,
            "ownership",
            bucket=bucket_id,
            rule=S3BucketOwnershipControlsRule(object_ownership="BucketOwnerEnforced"),
        )
        objects = f"{self.bucket_arn}/*"
        self.policy = S3BucketPolicy(
            self,
            "policy",
            bucket=bucket_id,
            policy=policy_document(
                Statement(
                    sid="DenyInsecureTransport",
                    effect="Deny",
                    principals={"AWS": "*"},
                    actions=["s3:*"],
                    resources=[self.bucket_arn, objects],
                    conditions={"Bool": {"aws:SecureTransport": "false"}},
                ),
                Statement(
                    sid="DenyTlsBelow12",
                    effect="Deny",
                    principals={"AWS": "*"},
                    actions=["s3:*"],
                    resources=[self.bucket_arn, objects],
                    conditions={"NumericLessThan": {"s3:TlsVersion": "1.2"}},
                ),
                *props.extra_statements,
            ),
            # A policy put before the public access block could be judged public and refused.
            depends_on=[public_access],
        )
        rules = [
            S3BucketLifecycleConfigurationRule(
                id="expire-noncurrent-versions",
                status="Enabled",
                filter=[S3BucketLifecycleConfigurationRuleFilter(prefix="")],
                noncurrent_version_expiration=[
                    S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration(
                        noncurrent_days=props.noncurrent_version_days
                    )
                ],
                # A delete marker whose older versions have all expired hides nothing: remove it.
                expiration=[
                    S3BucketLifecycleConfigurationRuleExpiration(expired_object_delete_marker=True)
                ],
                abort_incomplete_multipart_upload=[
                    S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload(
                        days_after_initiation=7
                    )
                ],
            )
        ]
        rules += [
            S3BucketLifecycleConfigurationRule(
                id=f"expire-transient-{prefix.replace('/', '-')}",
                status="Enabled",
                filter=[S3BucketLifecycleConfigurationRuleFilter(prefix=prefix)],
                noncurrent_version_expiration=[
                    S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration(
                        noncurrent_days=TRANSIENT_NONCURRENT_DAYS
                    )
                ],
                expiration=[
                    S3BucketLifecycleConfigurationRuleExpiration(expired_object_delete_marker=True)
                ],
            )
            for prefix in props.transient_prefixes
        ]
        if props.transitions:
            rules.append(
                S3BucketLifecycleConfigurationRule(
                    id="transition-current-objects",
                    status="Enabled",
                    filter=[S3BucketLifecycleConfigurationRuleFilter(prefix="")],
                    transition=[
                        S3BucketLifecycleConfigurationRuleTransition(
                            days=t.days, storage_class=t.storage_class
                        )
                        for t in props.transitions
                    ],
                )
            )
        if props.expire_current_after_days is not None:
            rules.append(
                S3BucketLifecycleConfigurationRule(
                    id="expire-current-objects",
                    status="Enabled",
                    filter=[S3BucketLifecycleConfigurationRuleFilter(prefix="")],
                    expiration=[
                        S3BucketLifecycleConfigurationRuleExpiration(
                            days=props.expire_current_after_days
                        )
                    ],
                )
            )
        S3BucketLifecycleConfiguration(
            self,
            "lifecycle",
            bucket=bucket_id,
            rule=rules,
            # Rules on noncurrent versions mean nothing until versioning is on, and AWS applies
            # a new configuration asynchronously: put it after versioning.
            depends_on=[self.versioning],
        )
        if props.object_lock:
            S3BucketObjectLockConfigurationA(
                self,
                "object-lock",
                bucket=bucket_id,
                rule=S3BucketObjectLockConfigurationRuleA(
                    default_retention=S3BucketObjectLockConfigurationRuleDefaultRetentionA(
                        mode=props.object_lock.mode, days=props.object_lock.days
                    )
                ),
                # Object Lock works on versions: after versioning is on.
                depends_on=[self.versioning],
            )
        if props.access_logs:
            log_bucket = props.access_logs.bucket
            S3BucketLoggingA(
                self,
                "access-logs",
                bucket=bucket_id,
                # A reference, not a literal: the target must exist and admit the S3 logging
                # service (its policy) first, or S3 answers InvalidTargetBucketForLogging.
                target_bucket=log_bucket.bucket_id,
                target_prefix=props.access_logs.prefix,
                depends_on=[log_bucket.policy],
            )
