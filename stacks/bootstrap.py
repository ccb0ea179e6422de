"""The state bootstrap stack: the S3 bucket and KMS key that hold every environment's state.

It keeps its own state locally (`state-bootstrap.tfstate` in the stack's folder), because the
bucket it creates does not exist before its first apply. Keep that file out of git and back it
up after the first apply.
"""

from __future__ import annotations

from cdktf import LocalBackend, TerraformOutput, TerraformStack
from constructs import Construct

from modules.encryption_key import EncryptionKey, EncryptionKeyProps
from modules.policy import Statement
from modules.secure_bucket import AccessLogTarget, SecureBucket, SecureBucketProps
from settings import ProjectConfig
from stacks.naming import StateNames
from stacks.provider import configure_stack

STACK_NAME = "state-bootstrap"


class StateBootstrapStack(TerraformStack):
    """The state bucket, its access-log bucket and the state key."""

    def __init__(self, scope: Construct, project: ProjectConfig, state: StateNames) -> None:
        super().__init__(scope, STACK_NAME)
        LocalBackend(self, path=f"{STACK_NAME}.tfstate")
        target = state.target
        configure_stack(self, project, target, "shared")

        state_key = EncryptionKey(
            self,
            "state-key",
            EncryptionKeyProps(
                alias=state.key_alias,
                description=f"Encrypts the Terraform state of {project.project}",
                target=target,
            ),
        )
        log_bucket_name = f"{state.bucket}-access-logs"
        # S3 server access logs can only be delivered to an SSE-S3 bucket, and a log bucket
        # logging to itself would loop: this one is encrypted with SSE-S3 and not logged.
        SecureBucket(
            self,
            "access-log-bucket",
            SecureBucketProps(
                bucket_name=log_bucket_name,
                target=target,
                kms_key_arn=None,
                expire_current_after_days=365,
                noncurrent_version_days=30,
                extra_statements=(
                    Statement(
                        sid="S3ServerAccessLogDelivery",
                        principals={"Service": "logging.s3.amazonaws.com"},
                        actions=["s3:PutObject"],
                        resources=[target.arn("s3", f"{log_bucket_name}/state-bucket/*")],
                        conditions={
                            "StringEquals": {"aws:SourceAccount": target.account_id},
                            "ArnLike": {"aws:SourceArn": target.arn("s3", state.bucket)},
                        },
                    ),
                ),
            ),
        )
        SecureBucket(
            self,
            "state-bucket",
            SecureBucketProps(
                bucket_name=state.bucket,
                target=target,
                kms_key_arn=state_key.key_arn,
                noncurrent_version_days=project.state.noncurrent_version_retention_days,
                access_logs=AccessLogTarget(bucket_name=log_bucket_name, prefix="state-bucket/"),
            ),
        )
        TerraformOutput(self, "state_bucket", value=state.bucket)
        TerraformOutput(self, "state_kms_key_arn", value=state_key.key_arn)
        TerraformOutput(self, "state_kms_alias_arn", value=state.key_alias_arn)
