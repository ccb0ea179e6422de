"""Outputs: what operators and other Terraform code read from an environment's state."""

from __future__ import annotations

from cdktf import TerraformOutput, TerraformStack

from stacks.layers.data import Data
from stacks.layers.edge import Edge
from stacks.layers.foundation import Foundation
from stacks.layers.secrets import Secrets


def build_outputs(
    stack: TerraformStack, base: Foundation, data: Data, secrets: Secrets, edge: Edge
) -> None:
    TerraformOutput(stack, "keyspace_name", value=data.keyspace.keyspace_name)
    TerraformOutput(stack, "vpc_id", value=base.network.vpc_id)
    TerraformOutput(stack, "private_subnet_ids", value=base.network.private_subnet_ids)
    TerraformOutput(stack, "isolated_subnet_ids", value=base.network.isolated_subnet_ids)
    TerraformOutput(stack, "public_subnet_ids", value=base.network.public_subnet_ids)
    database = data.database
    TerraformOutput(stack, "database_address", value=database.address)
    if database.reader_address is not None:
        TerraformOutput(stack, "database_reader_address", value=database.reader_address)
    TerraformOutput(stack, "database_port", value=database.port)
    TerraformOutput(stack, "database_resource_id", value=database.resource_id)
    TerraformOutput(stack, "database_master_secret_arn", value=database.master_secret_arn)
    TerraformOutput(stack, "database_security_group_id", value=database.security_group_id)
    for client, group_id in sorted(database.client_security_group_ids.items()):
        TerraformOutput(stack, f"{client.replace('-', '_')}_security_group_id", value=group_id)
    TerraformOutput(stack, "data_key_arn", value=data.data_key.key_arn)
    TerraformOutput(stack, "secrets_key_arn", value=data.secrets_key.key_arn)
    TerraformOutput(stack, "archive_bucket", value=data.archive.bucket_name)
    TerraformOutput(stack, "signing_keys_secret_arn", value=secrets.signing_keys.secret_arn)
    TerraformOutput(stack, "auth_task_role_arn", value=secrets.auth_task_role_arn)
    lb = edge.load_balancer
    TerraformOutput(stack, "load_balancer_dns_name", value=lb.dns_name)
    TerraformOutput(stack, "load_balancer_zone_id", value=lb.zone_id)
    TerraformOutput(stack, "load_balancer_arn_suffix", value=lb.arn_suffix)
    TerraformOutput(stack, "load_balancer_security_group_id", value=lb.security_group_id)
    TerraformOutput(stack, "https_listener_arn", value=lb.https_listener_arn)
    for route, arn in sorted(lb.target_group_arns.items()):
        TerraformOutput(stack, f"{route}_target_group_arn", value=arn)
        TerraformOutput(
            stack,
            f"{route}_target_group_arn_suffix",
            value=lb.target_group_arn_suffixes[route],
        )
    TerraformOutput(
        stack,
        "certificate_validation_records",
        value=lb.validation_records,
        description="CNAME records ACM checks: create them where the domain's DNS lives "
        "(done by the stack when edge.zone_id is set)",
    )
    TerraformOutput(stack, "web_acl_arn", value=edge.web_acl.web_acl_arn)
