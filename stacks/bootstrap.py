"""The state bootstrap stack: the S3 bucket and KMS key that hold every environment's state.

It keeps its own state locally (`state-bootstrap.tfstate` in the stack's folder), because the
bucket it creates does not exist before its first apply. Keep that file out of git and back it
up after the first apply.
"""

from __future__ import annotations

from cdktf import LocalBackend, TerraformOutput, TerraformStack
from constructs import Construct

from modules.kms import EncryptionKey, EncryptionKeyProps
from modules.policy import Statement
from modules.secure_bucket import AccessLogTarget, SecureBucket, SecureBucketProps
from stacks.common import configure_stack
from stacks.config import ProjectConfig

STACK_NAME = "state-bootstrap"


def state_key_alias(project: ProjectConfig) -> str:
    return f"{project.project}-tfstate"


def state_key_alias_arn(project: ProjectConfig) -> str:
    """The backend needs a literal key id; the alias ARN is known before the key exists."""
    return (
        f"arn:aws:kms:{project.state.region}:{project.aws_account_id}:"
        f"alias/{state_key_alias(project)}"
    )


class StateBootstrapStack(TerraformStack):
    """Exposes `state_bucket`, `access_log_bucket` and `state_key`."""

    def __init__(self, scope: Construct, project: ProjectConfig) -> None:
        super().__init__(scope, STACK_NAME)
        LocalBackend(self, path=f"{STACK_NAME}.tfstate")
        configure_stack(self, project, project.state.region, "shared")
        state = project.state

        self.state_key = EncryptionKey(
            self,
            "state-key",
            EncryptionKeyProps(
                alias=state_key_alias(project),
                description=f"Encrypts the Terraform state of {project.project}",
                account_id=project.aws_account_id,
                region=state.region,
            ),
        )
        log_bucket_name = f"{state.bucket}-access-logs"
        state_bucket_arn = f"arn:aws:s3:::{state.bucket}"
        # S3 server access logs can only be delivered to an SSE-S3 bucket, and a log bucket
        # logging to itself would loop: this one is encrypted with SSE-S3 and not logged.
        self.access_log_bucket = SecureBucket(
            self,
            "access-log-bucket",
            SecureBucketProps(
                bucket_name=log_bucket_name,
                kms_key_arn=None,
                expire_current_after_days=365,
                noncurrent_version_days=30,
                extra_statements=(
                    Statement(
                        sid="S3ServerAccessLogDelivery",
                        principals={"Service": "logging.s3.amazonaws.com"},
                        actions=["s3:PutObject"],
                        resources=[f"arn:aws:s3:::{log_bucket_name}/state-bucket/*"],
                        conditions={
                            "StringEquals": {"aws:SourceAccount": project.aws_account_id},
                            "ArnLike": {"aws:SourceArn": state_bucket_arn},
                        },
                    ),
                ),
            ),
        )
        self.state_bucket = SecureBucket(
            self,
            "state-bucket",
            SecureBucketProps(
                bucket_name=state.bucket,
                kms_key_arn=self.state_key.key_arn,
                noncurrent_version_days=state.noncurrent_version_retention_days,
                access_logs=AccessLogTarget(bucket_name=log_bucket_name, prefix="state-bucket/"),
            ),
        )
        TerraformOutput(self, "state_bucket", value=state.bucket)
        TerraformOutput(self, "state_kms_key_arn", value=self.state_key.key_arn)
        TerraformOutput(self, "state_kms_alias_arn", value=state_key_alias_arn(project))
