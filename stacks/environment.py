"""One environment of the platform: one stack, one state file in the shared state bucket."""

from __future__ import annotations

from cdktf import S3Backend, TerraformOutput, TerraformStack
from constructs import Construct

from modules.keyspaces import CheckinsKeyspace, KeyspacesProps
from modules.kms import EncryptionKey, EncryptionKeyProps
from modules.network import Network, NetworkProps
from stacks.bootstrap import state_key_alias_arn
from stacks.common import configure_stack
from stacks.config import EnvironmentConfig, ProjectConfig


def state_key(project: ProjectConfig, environment: EnvironmentConfig) -> str:
    return f"{project.project}/{environment.name}/terraform.tfstate"


class EnvironmentStack(TerraformStack):
    """Exposes `network`, `logs_key`, `data_key` and `keyspaces` for the constructs wired in
    after them (services, jobs, alarms)."""

    def __init__(
        self, scope: Construct, project: ProjectConfig, environment: EnvironmentConfig
    ) -> None:
        super().__init__(scope, environment.name)
        S3Backend(
            self,
            bucket=project.state.bucket,
            key=state_key(project, environment),
            region=project.state.region,
            encrypt=True,
            kms_key_id=state_key_alias_arn(project),
        )
        # cdktf 0.21's S3Backend predates S3 native locking (Terraform >= 1.10), which replaces
        # the deprecated DynamoDB lock table: set it through an escape hatch.
        self.add_override("terraform.backend.s3.use_lockfile", True)
        configure_stack(self, project, environment.region, environment.name)

        name = f"{project.project}-{environment.name}"
        self.logs_key = EncryptionKey(
            self,
            "logs-key",
            EncryptionKeyProps(
                alias=f"{name}-logs",
                description=f"Encrypts the CloudWatch log groups of {name}",
                account_id=project.aws_account_id,
                region=environment.region,
                log_group_arn_pattern=(
                    f"arn:aws:logs:{environment.region}:{project.aws_account_id}:log-group:*"
                ),
            ),
        )
        self.network = Network(
            self,
            "network",
            NetworkProps(
                name=name,
                region=environment.region,
                account_id=project.aws_account_id,
                vpc_cidr=environment.vpc_cidr,
                availability_zones=environment.zones,
                nat_gateways=environment.nat.value,
                flow_log_retention_days=environment.log_retention_days,
                flow_log_kms_key_arn=self.logs_key.key_arn,
            ),
        )
        self.data_key = EncryptionKey(
            self,
            "data-key",
            EncryptionKeyProps(
                alias=f"{name}-data",
                description=f"Encrypts the Keyspaces tables of {name}",
                account_id=project.aws_account_id,
                region=environment.region,
                via_services=(f"cassandra.{environment.region}.amazonaws.com",),
            ),
        )
        self.keyspaces = CheckinsKeyspace(
            self,
            "keyspaces",
            KeyspacesProps(
                region=environment.region,
                account_id=project.aws_account_id,
                kms_key_arn=self.data_key.key_arn,
                prevent_destroy=environment.deletion_protection,
            ),
        )
        TerraformOutput(self, "keyspace_name", value=self.keyspaces.props.keyspace_name)
        TerraformOutput(self, "vpc_id", value=self.network.vpc_id)
        TerraformOutput(self, "private_subnet_ids", value=self.network.private_subnet_ids)
        TerraformOutput(self, "isolated_subnet_ids", value=self.network.isolated_subnet_ids)
        TerraformOutput(self, "public_subnet_ids", value=self.network.public_subnet_ids)
