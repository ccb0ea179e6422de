"""One environment of the platform: one stack, one state file in the shared state bucket."""

from __future__ import annotations

from cdktf import S3Backend, TerraformStack
from constructs import Construct

from modules.aws_target import AwsTarget
from settings import EnvironmentConfig, ProjectConfig
from stacks.layers.data import build_data
from stacks.layers.foundation import build_foundation
from stacks.layers.outputs import build_outputs
from stacks.naming import Names, StateNames
from stacks.provider import configure_stack


class EnvironmentStack(TerraformStack):
    """Backend, provider, then one call per layer: the architecture, top to bottom."""

    def __init__(
        self,
        scope: Construct,
        project: ProjectConfig,
        environment: EnvironmentConfig,
        state: StateNames,
    ) -> None:
        super().__init__(scope, environment.name)
        S3Backend(
            self,
            bucket=state.bucket,
            key=state.state_key(environment.name),
            region=state.target.region,
            encrypt=True,
            kms_key_id=state.key_alias_arn,
        )
        # cdktf 0.21's S3Backend predates S3 native locking (Terraform >= 1.10), which replaces
        # the deprecated DynamoDB lock table: set it through an escape hatch.
        self.add_override("terraform.backend.s3.use_lockfile", True)
        target = AwsTarget(account_id=project.aws_account_id, region=environment.region)
        configure_stack(self, project, target, environment.name)
        names = Names(project=project.project, environment=environment.name)

        base = build_foundation(
            self,
            names,
            target,
            environment.network,
            zones=environment.zones,
            log_retention_days=environment.log_retention_days,
            deletion_protection=environment.deletion_protection,
        )
        data = build_data(
            self,
            names,
            target,
            environment.data,
            deletion_protection=environment.deletion_protection,
        )
        build_outputs(self, base, data)
