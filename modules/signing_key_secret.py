"""The auth service's JWT signing-key set: a Secrets Manager secret encrypted with a customer
key, created empty (no version in Terraform: the value never enters the JSON or the state; the
rotation function writes every version), a resource policy that lets only the named readers get
the value and only the rotation function change it, and rotation on a schedule."""

from __future__ import annotations

import re
from dataclasses import dataclass

from cdktf import TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.lambda_permission import LambdaPermission
from cdktf_cdktf_provider_aws.secretsmanager_secret import SecretsmanagerSecret
from cdktf_cdktf_provider_aws.secretsmanager_secret_policy import SecretsmanagerSecretPolicy
from cdktf_cdktf_provider_aws.secretsmanager_secret_rotation import (
    SecretsmanagerSecretRotation,
    SecretsmanagerSecretRotationRotationRules,
)
from constructs import Construct

from modules.aws_target import AwsTarget
from modules.policy import Statement, policy_document
from modules.props import check_arn, require

_SECRET_NAME = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,512}$")
# What a rotation function calls on its secret (AWS's rotation templates, minus
# GetRandomPassword: the keys are generated inside the function).
ROTATION_ACTIONS = (
    "secretsmanager:DescribeSecret",
    "secretsmanager:GetSecretValue",
    "secretsmanager:PutSecretValue",
    "secretsmanager:UpdateSecretVersionStage",
)
# The calls that change the value: only the rotation function's role may make them.
WRITE_ACTIONS = ("secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage")


@dataclass(frozen=True)
class SigningKeySecretProps:
    """Props of `SigningKeySecret`."""

    secret_name: str
    target: AwsTarget
    kms_key_arn: str
    """Customer key of the secret; its policy must admit Secrets Manager."""
    reader_role_arns: tuple[str, ...]
    """Roles that may read the value (GetSecretValue), e.g. the auth task role: literal ARNs,
    so roles created later can be named (a Deny on `aws:PrincipalArn` needs no principal to
    exist)."""
    rotation_role_arn: str
    """The rotation function's role: the only one that may write versions (and read them)."""
    description: str = "JWT signing-key set of the auth service"
    """@default as shown"""
    recovery_window_days: int = 30
    """Days a deleted secret can be restored. @default 30"""
    prevent_destroy: bool = True
    """@default True"""

    def __post_init__(self) -> None:
        require(
            _SECRET_NAME.match(self.secret_name) is not None,
            "SigningKeySecretProps.secret_name",
            self.secret_name,
            "is not a valid secret name (1-512 of A-Z a-z 0-9 / _ + = . @ -)",
        )
        require(
            7 <= self.recovery_window_days <= 30,
            "SigningKeySecretProps.recovery_window_days",
            self.recovery_window_days,
            "is outside 7..30",
        )
        require(
            bool(self.reader_role_arns),
            "SigningKeySecretProps.reader_role_arns",
            self.reader_role_arns,
            "must name at least one reader",
        )
        check_arn("SigningKeySecretProps.kms_key_arn", self.kms_key_arn, service="kms")
        for arn in self.reader_role_arns:
            check_arn(
                "SigningKeySecretProps.reader_role_arns", arn, service="iam", resource="role/"
            )
        check_arn(
            "SigningKeySecretProps.rotation_role_arn",
            self.rotation_role_arn,
            service="iam",
            resource="role/",
        )


class SigningKeySecret(Construct):
    """Attributes: `secret_arn`, `secret_name`, `kms_key_arn`.
    Grants: `reader_statements()`, `rotation_statements()`; `rotate_with(function_arn,
    function_name, every_days)`."""

    def __init__(self, scope: Construct, id_: str, props: SigningKeySecretProps) -> None:
        super().__init__(scope, id_)
        self._target = props.target
        self.kms_key_arn: str = props.kms_key_arn
        self.secret_name: str = props.secret_name
        secret = SecretsmanagerSecret(
            self,
            "secret",
            name=props.secret_name,
            description=props.description,
            kms_key_id=props.kms_key_arn,
            recovery_window_in_days=props.recovery_window_days,
            tags={"Name": props.secret_name},
            lifecycle=TerraformResourceLifecycle(prevent_destroy=True)
            if props.prevent_destroy
            else None,
        )
        self._secret = secret
        self.secret_arn: str = secret.arn
        readers = sorted({*props.reader_role_arns, props.rotation_role_arn})
        SecretsmanagerSecretPolicy(
            self,
            "policy",
            secret_arn=secret.arn,
            block_public_policy=True,
            # Identity policies of the account could grant these calls to anyone; these
            # denials cap them at the named roles whatever else is granted. In a secret's
            # policy the resource "*" means "this secret".
            policy=policy_document(
                Statement(
                    sid="OnlyReadersGetTheValue",
                    effect="Deny",
                    principals={"AWS": "*"},
                    actions=["secretsmanager:GetSecretValue"],
                    resources=["*"],
                    conditions={
                        "ArnNotEquals": {
                            "aws:PrincipalArn": readers[0] if len(readers) == 1 else readers
                        }
                    },
                ),
                Statement(
                    sid="OnlyRotationWritesTheValue",
                    effect="Deny",
                    principals={"AWS": "*"},
                    actions=list(WRITE_ACTIONS),
                    resources=["*"],
                    conditions={"ArnNotEquals": {"aws:PrincipalArn": props.rotation_role_arn}},
                ),
            ),
        )

    def _key_use(self, sid: str, actions: list[str]) -> Statement:
        return Statement(
            sid=sid,
            actions=actions,
            resources=[self.kms_key_arn],
            conditions={
                "StringEquals": {
                    "kms:ViaService": self._target.service_principal("secretsmanager"),
                    "kms:EncryptionContext:SecretARN": self.secret_arn,
                }
            },
        )

    def reader_statements(self) -> tuple[Statement, ...]:
        """For a reader's role (the auth task): get the value, decrypt it through Secrets
        Manager for this secret only."""
        return (
            Statement(
                sid="ReadsSigningKeys",
                actions=["secretsmanager:GetSecretValue"],
                resources=[self.secret_arn],
            ),
            self._key_use("DecryptsSigningKeys", ["kms:Decrypt"]),
        )

    def rotation_statements(self) -> tuple[Statement, ...]:
        """For the rotation function's role: the four calls of a rotation on this secret, and
        the key through Secrets Manager for this secret only."""
        return (
            Statement(
                sid="RotatesSigningKeys",
                actions=list(ROTATION_ACTIONS),
                resources=[self.secret_arn],
            ),
            self._key_use("EncryptsSigningKeys", ["kms:Decrypt", "kms:GenerateDataKey"]),
        )

    def rotate_with(self, function_arn: str, every_days: int) -> None:
        """Secrets Manager invokes the function (only for this secret, of this account) every
        `every_days` days, and once right away: that first rotation fills the empty secret."""
        require(
            1 <= every_days <= 1000,
            "SigningKeySecret.rotate_with.every_days",
            every_days,
            "is outside 1..1000",
        )
        permission = LambdaPermission(
            self,
            "rotation-permission",
            statement_id="SecretsManagerRotatesSigningKeys",
            action="lambda:InvokeFunction",
            function_name=function_arn,
            principal="secretsmanager.amazonaws.com",
            source_arn=self.secret_arn,
            source_account=self._target.account_id,
        )
        SecretsmanagerSecretRotation(
            self,
            "rotation",
            secret_id=self._secret.id,
            rotation_lambda_arn=function_arn,
            rotation_rules=SecretsmanagerSecretRotationRotationRules(
                automatically_after_days=every_days
            ),
            rotate_immediately=True,
            # Secrets Manager checks it may invoke the function when rotation is configured.
            depends_on=[permission],
        )
