"""One environment of the platform: one stack, one state file in the shared state bucket."""

from __future__ import annotations

from cdktf import TerraformStack
from constructs import Construct

from modules.aws_target import AwsTarget
from settings import EnvironmentConfig, ProjectConfig
from stacks.layers.data import build_data
from stacks.layers.edge import build_edge
from stacks.layers.foundation import build_foundation
from stacks.layers.outputs import build_outputs
from stacks.layers.secrets import build_secrets
from stacks.naming import Names, StateNames
from stacks.provider import (
    block_account_public_access,
    configure_stack,
    configure_state_backend,
)


class EnvironmentStack(TerraformStack):
    """Backend, provider, then one call per layer: the architecture, top to bottom."""

    def __init__(
        self,
        scope: Construct,
        project: ProjectConfig,
        environment: EnvironmentConfig,
        state: StateNames,
        *,
        manages_account_settings: bool = False,
    ) -> None:
        super().__init__(scope, environment.name)
        configure_state_backend(self, state, environment.name, role_arn=environment.state_role_arn)
        target = AwsTarget(account_id=environment.aws_account_id, region=environment.region)
        configure_stack(
            self, project, target, environment.name, deploy_role_arn=environment.deploy_role_arn
        )
        if manages_account_settings:
            # The project's account gets it from the bootstrap stack; another account from
            # exactly one of its environments (PlatformConfig.manages_account_settings).
            block_account_public_access(self, target.account_id)
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
            base.network,
            logs_key_arn=base.logs_key.key_arn,
            log_retention_days=environment.log_retention_days,
            deletion_protection=environment.deletion_protection,
        )
        secrets = build_secrets(
            self,
            names,
            target,
            environment.data.signing_keys,
            base,
            data,
            log_retention_days=environment.log_retention_days,
            deletion_protection=environment.deletion_protection,
        )
        edge = build_edge(
            self,
            names,
            target,
            environment.edge,
            base.network,
            vpc_cidr=environment.network.vpc_cidr,
            logs_key_arn=base.logs_key.key_arn,
            log_retention_days=environment.log_retention_days,
            deletion_protection=environment.deletion_protection,
        )
        build_outputs(self, base, data, secrets, edge)
