"""An S3 bucket with the secure defaults every bucket of the platform shares: versioning,
default encryption, all public access blocked, object ownership enforced (no ACLs), a policy that
denies anything but TLS 1.2+, lifecycle rules (noncurrent versions and leftover delete markers
expire), `prevent_destroy`, and optional server access logging."""

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
)
from cdktf_cdktf_provider_aws.s3_bucket_logging import S3BucketLoggingA
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
