"""A customer-managed KMS key with rotation, an alias and a key policy naming its users."""

from __future__ import annotations

import re
from dataclasses import dataclass

from cdktf_cdktf_provider_aws.kms_alias import KmsAlias
from cdktf_cdktf_provider_aws.kms_key import KmsKey
from constructs import Construct

from modules.aws_target import AwsTarget
from modules.policy import Statement, policy_document
from modules.props import require


@dataclass(frozen=True)
class EncryptionKeyProps:
    """Props of `EncryptionKey`."""

    alias: str
    """Alias without the `alias/` prefix, e.g. `checkins-prod-logs`."""
    description: str
    target: AwsTarget
    """Account (administers the key) and region (of the services' principals)."""
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
        require(
            re.fullmatch(r"[A-Za-z0-9/_-]{1,250}", self.alias) is not None
            and not self.alias.startswith("aws/"),
            "EncryptionKeyProps.alias",
            self.alias,
            "is not a valid alias name (letters, digits, / _ -; not aws/...)",
        )
        require(
            7 <= self.deletion_window_days <= 30,
            "EncryptionKeyProps.deletion_window_days",
            self.deletion_window_days,
            "is outside 7..30",
        )


class EncryptionKey(Construct):
    """KMS key, yearly rotation on, administered by the account.

    Attributes: `key_arn`, `alias_arn`.
    """

    def __init__(self, scope: Construct, id_: str, props: EncryptionKeyProps) -> None:
        super().__init__(scope, id_)
        target = props.target
        root = target.root_arn
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
                    principals={"Service": target.service_principal("logs")},
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
                    conditions={"StringEquals": {"aws:SourceAccount": target.account_id}},
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
                            "kms:CallerAccount": target.account_id,
                            "kms:ViaService": sorted(props.via_services),
                        }
                    },
                )
            )
        key = KmsKey(
            self,
            "key",
            description=props.description,
            enable_key_rotation=True,
            rotation_period_in_days=365,
            deletion_window_in_days=props.deletion_window_days,
            policy=policy_document(*statements),
            tags={"Name": props.alias},
        )
        alias = KmsAlias(self, "alias", name=f"alias/{props.alias}", target_key_id=key.key_id)
        self.key_arn: str = key.arn
        self.alias_arn: str = alias.arn
