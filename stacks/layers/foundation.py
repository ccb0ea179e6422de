"""Foundation: the key that encrypts the environment's logs, and the network."""

from __future__ import annotations

from dataclasses import dataclass

from cdktf import TerraformStack

from modules.aws_target import AwsTarget
from modules.encryption_key import EncryptionKey, EncryptionKeyProps
from modules.network import Network, NetworkProps
from settings import NetworkSettings
from stacks.naming import Names


@dataclass(frozen=True)
class Foundation:
    logs_key: EncryptionKey
    network: Network


def build_foundation(
    stack: TerraformStack,
    names: Names,
    target: AwsTarget,
    cfg: NetworkSettings,
    *,
    zones: tuple[str, ...],
    log_retention_days: int,
    deletion_protection: bool,
) -> Foundation:
    logs_key = EncryptionKey(
        stack,
        "logs-key",
        EncryptionKeyProps(
            alias=names.unique("logs"),
            description=f"Encrypts the CloudWatch log groups of {names.prefix}",
            target=target,
            # This environment's log groups only, not every group of the account.
            log_group_arn_patterns=tuple(
                target.arn("logs", f"log-group:{pattern}") for pattern in names.log_group_patterns
            ),
            prevent_destroy=deletion_protection,
        ),
    )
    network = Network(
        stack,
        "network",
        NetworkProps(
            name=names.prefix,
            target=target,
            vpc_cidr=cfg.vpc_cidr,
            availability_zones=zones,
            nat_gateways=cfg.nat,
            zone_slots=cfg.zone_slots,
            flow_log_retention_days=log_retention_days,
            flow_log_kms_key_arn=logs_key.key_arn,
            prevent_destroy=deletion_protection,
        ),
    )
    return Foundation(logs_key=logs_key, network=network)
