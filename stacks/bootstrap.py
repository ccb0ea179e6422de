"""The state bootstrap stack: the S3 bucket and KMS key that hold every environment's state.

Its own state starts out local (`state-bootstrap.tfstate` in the stack's folder), because the
bucket it creates does not exist before its first apply. After that apply, `[state]
bootstrap_state_in_bucket = true` moves it into the bucket (docs/state.md): until then keep the
local file out of git and back it up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from cdktf import LocalBackend, TerraformOutput, TerraformStack
from constructs import Construct

from modules.encryption_key import EncryptionKey, EncryptionKeyProps
from modules.policy import Statement
from modules.secure_bucket import (
    AccessLogTarget,
    SecureBucket,
    SecureBucketProps,
    log_delivery_statement,
)
from settings import EnvironmentConfig, ProjectConfig
from stacks.naming import StateNames
from stacks.provider import block_account_public_access, configure_stack, configure_state_backend

STACK_NAME = "state-bootstrap"


class StateBootstrapStack(TerraformStack):
    """The state bucket, its access-log bucket, the state key, and the project account's S3
    public access block. `environments` is every environment of the project (not only the
    selected ones): each one's lock file is expired, and each one in another account is
    granted its own state prefix."""

    def __init__(
        self,
        scope: Construct,
        project: ProjectConfig,
        state: StateNames,
        environments: Sequence[EnvironmentConfig],
    ) -> None:
        super().__init__(scope, STACK_NAME)
        if project.state.bootstrap_state_in_bucket:
            configure_state_backend(self, state, STACK_NAME)
        else:
            LocalBackend(self, path=f"{STACK_NAME}.tfstate")
        target = state.target
        configure_stack(self, project, target, "shared")
        block_account_public_access(self, target.account_id)
        foreign = [e for e in environments if e.aws_account_id != target.account_id]

        state_key = EncryptionKey(
            self,
            "state-key",
            EncryptionKeyProps(
                alias=state.key_alias,
                description=f"Encrypts the Terraform state of {project.project}",
                target=target,
                # Only S3 uses the key, for the state bucket; the account keeps administering it.
                direct_use=False,
                via_services=(state.via_service,),
                extra_statements=_accounts_use_key_through_s3(
                    state, sorted({e.aws_account_id for e in foreign})
                ),
            ),
        )
        log_bucket_name = f"{state.bucket}-access-logs"
        # S3 server access logs can only be delivered to an SSE-S3 bucket, and a log bucket
        # logging to itself would loop: this one is encrypted with SSE-S3 and not logged.
        log_bucket = SecureBucket(
            self,
            "access-log-bucket",
            SecureBucketProps(
                bucket_name=log_bucket_name,
                target=target,
                kms_key_arn=None,
                expire_current_after_days=365,
                noncurrent_version_days=30,
                extra_statements=(
                    log_delivery_statement(target, log_bucket_name, "state-bucket/", state.bucket),
                ),
            ),
        )
        stacks = [STACK_NAME, *(e.name for e in environments)]
        SecureBucket(
            self,
            "state-bucket",
            SecureBucketProps(
                bucket_name=state.bucket,
                target=target,
                kms_key_arn=state_key.key_arn,
                noncurrent_version_days=project.state.noncurrent_version_retention_days,
                # S3 native locking writes and deletes a lock object on every run.
                transient_prefixes=tuple(state.lock_key(name) for name in stacks),
                access_logs=AccessLogTarget(bucket=log_bucket, prefix="state-bucket/"),
                extra_statements=tuple(
                    statement for e in foreign for statement in _state_access(state, e)
                ),
            ),
        )
        TerraformOutput(self, "state_bucket", value=state.bucket)
        TerraformOutput(self, "state_kms_key_arn", value=state_key.key_arn)
        TerraformOutput(self, "state_kms_alias_arn", value=state.key_alias_arn)


def _state_access(state: StateNames, environment: EnvironmentConfig) -> tuple[Statement, ...]:
    """What the S3 backend of an environment in another account needs, and nothing more: list
    its own prefix, read and write its state object, read, write and delete its lock object.
    The account's own IAM policies then decide which of its principals may."""
    name = environment.name
    account = {"AWS": replace(state.target, account_id=environment.aws_account_id).root_arn}
    bucket_arn = state.target.arn("s3", state.bucket)
    sid = "".join(part.capitalize() for part in name.split("-"))
    return (
        Statement(
            sid=f"{sid}ListsItsStatePrefix",
            principals=account,
            actions=["s3:ListBucket"],
            resources=[bucket_arn],
            conditions={"StringLike": {"s3:prefix": f"{state.state_prefix(name)}*"}},
        ),
        Statement(
            sid=f"{sid}ReadsAndWritesItsState",
            principals=account,
            actions=["s3:GetObject", "s3:PutObject"],
            resources=[f"{bucket_arn}/{state.state_key(name)}"],
        ),
        Statement(
            sid=f"{sid}TakesItsStateLock",
            principals=account,
            actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            resources=[f"{bucket_arn}/{state.lock_key(name)}"],
        ),
    )


def _accounts_use_key_through_s3(
    state: StateNames, accounts: Sequence[str]
) -> tuple[Statement, ...]:
    """Environment accounts may use the state key only through S3 and only for the state
    bucket."""
    if not accounts:
        return ()
    bucket_arn = state.target.arn("s3", state.bucket)
    return (
        Statement(
            sid="EnvironmentAccountsUseKeyThroughS3",
            # In a key policy the resource "*" means "this key": there is no narrower form.
            principals={"AWS": "*"},
            actions=["kms:Decrypt", "kms:GenerateDataKey"],
            resources=["*"],
            conditions={
                "StringEquals": {
                    "kms:CallerAccount": accounts[0] if len(accounts) == 1 else list(accounts),
                    "kms:ViaService": state.via_service,
                },
                # With an S3 bucket key the context is the bucket's ARN, without one the object's.
                "StringLike": {"kms:EncryptionContext:aws:s3:arn": [bucket_arn, f"{bucket_arn}/*"]},
            },
        ),
    )
