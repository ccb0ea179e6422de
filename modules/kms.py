"""A customer-managed KMS key with rotation, an alias and a key policy naming its users."""

from __future__ import annotations

import re
from dataclasses import dataclass

from cdktf_cdktf_provider_aws.kms_alias import KmsAlias
from cdktf_cdktf_provider_aws.kms_key import KmsKey
from constructs import Construct

from modules.policy import Statement, policy_document


@dataclass(frozen=True)
class EncryptionKeyProps:
    """Props of `EncryptionKey`."""

    alias: str
    """Alias without the `alias/` prefix, e.g. `checkins-prod-logs`."""
    description: str
    account_id: str
    region: str
    log_group_arn_pattern: str | None = None
    """If set, CloudWatch Logs may use the key for log groups matching this ARN pattern.
    @default None"""
    service_principals: tuple[str, ...] = ()
    """Other AWS services (e.g. `s3.amazonaws.com`) allowed to use the key through this account.
    @default ()"""
    via_services: tuple[str, ...] = ()
    """AWS services (e.g. `cassandra.eu-west-1.amazonaws.com`) through which any principal of
    this account may use the key, as AWS-managed keys allow: the service creates its own grant,
    so workload roles need no KMS permission of their own. @default ()"""
    deletion_window_days: int = 30
    """@default 30 (the maximum: the longest time to notice a mistaken deletion)"""

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9/_-]{1,250}", self.alias) or self.alias.startswith("aws/"):
            raise ValueError(f"EncryptionKeyProps.alias: invalid alias {self.alias!r}")
        if not 7 <= self.deletion_window_days <= 30:
            raise ValueError(
                f"EncryptionKeyProps.deletion_window_days: {self.deletion_window_days!r} "
                "is outside 7..30"
            )


class EncryptionKey(Construct):
    """KMS key, yearly rotation on, administered by the account; exposes `key_arn`, `alias_arn`."""

    def __init__(self, scope: Construct, id_: str, props: EncryptionKeyProps) -> None:
        super().__init__(scope, id_)
        root = f"arn:aws:iam::{props.account_id}:root"
        # In a key policy the resource "*" means "this key": there is no narrower form.
        statements = [
            Statement(
                sid="AccountAdministersKey",
                principals={"AWS": root},
                actions=["kms:*"],
                resources=["*"],
            )
        ]
        if props.log_group_arn_pattern:
            statements.append(
                Statement(
                    sid="CloudWatchLogsUsesKey",
                    principals={"Service": f"logs.{props.region}.amazonaws.com"},
                    actions=[
                        "kms:Encrypt*",
                        "kms:Decrypt*",
                        "kms:ReEncrypt*",
                        "kms:GenerateDataKey*",
                        "kms:Describe*",
                    ],
                    resources=["*"],
                    conditions={
                        "ArnLike": {
                            "kms:EncryptionContext:aws:logs:arn": props.log_group_arn_pattern
                        }
                    },
                )
            )
        if props.service_principals:
            statements.append(
                Statement(
                    sid="ServicesUseKeyForThisAccount",
                    principals={"Service": sorted(props.service_principals)},
                    actions=["kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"],
                    resources=["*"],
                    conditions={"StringEquals": {"aws:SourceAccount": props.account_id}},
                )
            )
        if props.via_services:
            statements.append(
                Statement(
                    sid="AccountUsesKeyThroughServices",
                    principals={"AWS": "*"},
                    actions=[
                        "kms:Encrypt",
                        "kms:Decrypt",
                        "kms:ReEncrypt*",
                        "kms:GenerateDataKey*",
                        "kms:DescribeKey",
                        "kms:CreateGrant",
                    ],
                    resources=["*"],
                    conditions={
                        "StringEquals": {
                            "kms:CallerAccount": props.account_id,
                            "kms:ViaService": sorted(props.via_services),
                        }
                    },
                )
            )
        self.key = KmsKey(
            self,
            "key",
            description=props.description,
            enable_key_rotation=True,
            rotation_period_in_days=365,
            deletion_window_in_days=props.deletion_window_days,
            policy=policy_document(*statements),
            tags={"Name": props.alias},
        )
        self.alias = KmsAlias(
            self, "alias", name=f"alias/{props.alias}", target_key_id=self.key.key_id
        )
        self.key_arn: str = self.key.arn
        self.alias_arn: str = self.alias.arn
