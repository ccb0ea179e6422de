"""A customer-managed KMS key with rotation, an alias and a key policy naming its users."""

from __future__ import annotations

import re
from dataclasses import dataclass

from cdktf import TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.kms_alias import KmsAlias
from cdktf_cdktf_provider_aws.kms_key import KmsKey
from constructs import Construct

from modules.aws_target import AwsTarget
from modules.policy import Statement, policy_document
from modules.props import require

# What the account keeps when it may not use a key directly: administration, no cryptography
# (the key administrators' actions of AWS's default key policy).
KEY_ADMINISTRATION_ACTIONS = (
    "kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*",
    "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource",
    "kms:UntagResource", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
)  # fmt: skip


@dataclass(frozen=True)
class EncryptionKeyProps:
    """Props of `EncryptionKey`."""

    alias: str
    """Alias without the `alias/` prefix, e.g. `checkins-prod-logs`."""
    description: str
    target: AwsTarget
    """Account (administers the key) and region (of the services' principals)."""
    log_group_arn_patterns: tuple[str, ...] = ()
    """CloudWatch Logs may use the key for the log groups matching these ARN patterns.
    @default () (no log group)"""
    service_principals: tuple[str, ...] = ()
    """Other AWS services (e.g. `s3.amazonaws.com`) allowed to use the key through this account.
    @default ()"""
    via_services: tuple[str, ...] = ()
    """AWS services (e.g. `cassandra.eu-west-1.amazonaws.com`) through which any principal of
    this account may use the key, as AWS-managed keys allow: the service creates its own grant,
    so workload roles need no KMS permission of their own. @default ()"""
    direct_use: bool = True
    """IAM policies of the account may grant any use of the key. False: the account administers
    the key, but its principals use it for cryptography only through `via_services` (a state key
    that is only ever used by S3). @default True"""
    extra_statements: tuple[Statement, ...] = ()
    """Statements added to the key policy after the ones above (e.g. other accounts' use).
    @default ()"""
    deletion_window_days: int = 30
    """@default 30 (the maximum: the longest time to notice a mistaken deletion)"""
    prevent_destroy: bool = True
    """Terraform refuses to destroy the key (scheduling its deletion loses every object it
    encrypts). Opt out for throw-away environments. @default True"""

    def __post_init__(self) -> None:
        require(
            re.fullmatch(r"[A-Za-z0-9/_-]{1,250}", self.alias) is not None
            and not self.alias.startswith("aws/"),
            "EncryptionKeyProps.alias",
            self.alias,
            "is not a valid alias name (letters, digits, / _ -; not aws/...)",
        )
        require(
            self.direct_use or bool(self.via_services),
            "EncryptionKeyProps.direct_use",
            self.direct_use,
            "False needs via_services, or nothing could use the key",
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
                actions=["kms:*"] if props.direct_use else list(KEY_ADMINISTRATION_ACTIONS),
                resources=["*"],
            )
        ]
        if props.log_group_arn_patterns:
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
                            "kms:EncryptionContext:aws:logs:arn": (
                                props.log_group_arn_patterns[0]
                                if len(props.log_group_arn_patterns) == 1
                                else list(props.log_group_arn_patterns)
                            )
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
        statements.extend(props.extra_statements)
        key = KmsKey(
            self,
            "key",
            description=props.description,
            enable_key_rotation=True,
            rotation_period_in_days=365,
            deletion_window_in_days=props.deletion_window_days,
            policy=policy_document(*statements),
            tags={"Name": props.alias},
            lifecycle=TerraformResourceLifecycle(prevent_destroy=True)
            if props.prevent_destroy
            else None,
        )
        alias = KmsAlias(self, "alias", name=f"alias/{props.alias}", target_key_id=key.key_id)
        self.key_arn: str = key.arn
        self.alias_arn: str = alias.arn
