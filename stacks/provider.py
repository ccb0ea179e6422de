"""What every stack of the platform shares: pinned Terraform and provider versions, the AWS
provider with the common tags, the tag set itself, the S3 backend, and the account-wide S3
public access block."""

from __future__ import annotations

from pathlib import Path

from cdktf import S3Backend, S3BackendAssumeRoleConfig, TerraformStack
from cdktf_cdktf_provider_aws.provider import (
    AwsProvider,
    AwsProviderAssumeRole,
    AwsProviderDefaultTags,
)
from cdktf_cdktf_provider_aws.s3_account_public_access_block import (
    S3AccountPublicAccessBlock,
)

from modules.aws_target import AwsTarget
from settings import ProjectConfig
from stacks.naming import StateNames

TERRAFORM_VERSION_FILE = Path(__file__).resolve().parent.parent / ".terraform-version"
# The hashicorp/aws release cdktf-cdktf-provider-aws 21.22.1 was generated from. Newer 6.x
# minors keep every argument the binding knows, so allow them; 7.x may not.
AWS_PROVIDER_CONSTRAINT = "~> 6.25"


def terraform_version() -> str:
    return TERRAFORM_VERSION_FILE.read_text(encoding="utf-8").strip()


def required_terraform_version() -> str:
    """`~> MAJOR.MINOR` of `.terraform-version`: that release line or newer 1.x; S3 native state
    locking (`use_lockfile`) needs at least 1.10."""
    major, minor, _patch = terraform_version().split(".")
    return f"~> {major}.{minor}"


def common_tags(project: ProjectConfig, environment: str) -> dict[str, str]:
    return {
        "project": project.project,
        "environment": environment,
        "owner": project.owner,
        "managed-by": "terraform-cdktf",
        "repository": project.repository,
    }


def configure_stack(
    stack: TerraformStack,
    project: ProjectConfig,
    target: AwsTarget,
    environment: str,
    *,
    deploy_role_arn: str | None = None,
) -> AwsProvider:
    """Pin versions and add the AWS provider, with the common tags on every taggable resource;
    with `deploy_role_arn`, the provider assumes that role (in `target`'s account)."""
    stack.add_override("terraform.required_version", required_terraform_version())
    stack.add_override("terraform.required_providers.aws.source", "hashicorp/aws")
    stack.add_override("terraform.required_providers.aws.version", AWS_PROVIDER_CONSTRAINT)
    return AwsProvider(
        stack,
        "aws",
        region=target.region,
        # Refuses to run against any other account: a wrong profile cannot touch it.
        allowed_account_ids=[target.account_id],
        assume_role=[
            AwsProviderAssumeRole(
                role_arn=deploy_role_arn,
                # Names the stack in the account's CloudTrail: who changed what.
                session_name=f"{project.project}-{environment}-deploy",
            )
        ]
        if deploy_role_arn
        else None,
        default_tags=[AwsProviderDefaultTags(tags=common_tags(project, environment))],
    )


def configure_state_backend(
    stack: TerraformStack, state: StateNames, name: str, *, role_arn: str | None = None
) -> S3Backend:
    """The S3 backend of stack `name`: key `<project>/<name>/terraform.tfstate` in the state
    bucket, encrypted with the state key, S3 native locking; with `role_arn`, the backend
    assumes that role for state access."""
    backend = S3Backend(
        stack,
        bucket=state.bucket,
        key=state.state_key(name),
        region=state.target.region,
        encrypt=True,
        kms_key_id=state.key_alias_arn,
        assume_role=S3BackendAssumeRoleConfig(
            role_arn=role_arn, session_name=f"{state.project}-{name}-state"
        )
        if role_arn
        else None,
    )
    # cdktf 0.21's S3Backend predates S3 native locking (Terraform >= 1.10), which replaces
    # the deprecated DynamoDB lock table: set it through an escape hatch.
    stack.add_override("terraform.backend.s3.use_lockfile", True)
    return backend


def block_account_public_access(stack: TerraformStack, account_id: str) -> None:
    """The account-wide S3 public access block, all four settings on: no bucket of the account
    can be made public, whatever its own settings. One per account: exactly one stack of the
    platform adds it for each account."""
    S3AccountPublicAccessBlock(
        stack,
        "account-public-access-block",
        account_id=account_id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
    )
