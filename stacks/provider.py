"""What every stack of the platform shares: pinned Terraform and provider versions, the AWS
provider with the common tags, and the tag set itself."""

from __future__ import annotations

from pathlib import Path

from cdktf import TerraformStack
from cdktf_cdktf_provider_aws.provider import AwsProvider, AwsProviderDefaultTags

from modules.aws_target import AwsTarget
from settings import ProjectConfig

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
    stack: TerraformStack, project: ProjectConfig, target: AwsTarget, environment: str
) -> AwsProvider:
    """Pin versions and add the AWS provider, with the common tags on every taggable resource."""
    stack.add_override("terraform.required_version", required_terraform_version())
    stack.add_override("terraform.required_providers.aws.source", "hashicorp/aws")
    stack.add_override("terraform.required_providers.aws.version", AWS_PROVIDER_CONSTRAINT)
    return AwsProvider(
        stack,
        "aws",
        region=target.region,
        # Refuses to run against any other account: a wrong profile cannot touch it.
        allowed_account_ids=[target.account_id],
        default_tags=[AwsProviderDefaultTags(tags=common_tags(project, environment))],
    )
