"""Secrets: the auth service's JWT signing-key set and the Lambda function that rotates it."""

from __future__ import annotations

from dataclasses import dataclass

from cdktf import TerraformStack

from modules.aws_target import AwsTarget
from modules.lambda_function import LambdaFunction, LambdaFunctionProps
from modules.signing_key_secret import SigningKeySecret, SigningKeySecretProps
from settings.signing_keys import SigningKeySettings
from stacks.layers.data import Data
from stacks.layers.foundation import Foundation
from stacks.naming import Names
from toolchain import lambda_package


@dataclass(frozen=True)
class Secrets:
    signing_keys: SigningKeySecret
    key_rotation: LambdaFunction
    auth_task_role_arn: str
    """The auth service's task role, created with the service: the secret already names it."""


def build_secrets(
    stack: TerraformStack,
    names: Names,
    target: AwsTarget,
    cfg: SigningKeySettings,
    base: Foundation,
    data: Data,
    *,
    log_retention_days: int,
    deletion_protection: bool,
) -> Secrets:
    auth_task_role_arn = target.arn("iam", f"role/{names.auth_task_role}")
    rotation_role_arn = target.arn("iam", f"role/{names.key_rotation_function}")
    signing_keys = SigningKeySecret(
        stack,
        "signing-keys",
        SigningKeySecretProps(
            secret_name=names.signing_key_secret,
            target=target,
            kms_key_arn=data.secrets_key.key_arn,
            reader_role_arns=(auth_task_role_arn,),
            rotation_role_arn=rotation_role_arn,
            recovery_window_days=cfg.recovery_window_days,
            prevent_destroy=deletion_protection,
        ),
    )
    package = lambda_package.ensure("key_rotation")
    spec = lambda_package.PACKAGES["key_rotation"]
    network = base.network
    rotation = LambdaFunction(
        stack,
        "key-rotation",
        LambdaFunctionProps(
            function_name=names.key_rotation_function,
            target=target,
            description=f"Rotates the JWT signing-key set of {names.prefix}",
            code_path=str(package.path),
            source_code_hash=package.source_code_hash,
            handler="key_rotation.handler.handler",
            runtime=spec.runtime,
            architecture=spec.architecture,
            vpc_id=network.vpc_id,
            subnet_ids=tuple(network.private_subnet_ids),
            endpoint_security_group_id=network.endpoint_security_group_id,
            log_kms_key_arn=base.logs_key.key_arn,
            log_retention_days=log_retention_days,
            # The secrets key admits Secrets Manager only; the logs key may be granted by IAM.
            environment_kms_key_arn=base.logs_key.key_arn,
            environment={
                "KEY_ROTATION_PUBLISH_DELAY_SECONDS": str(cfg.publish_delay_seconds),
                "KEY_ROTATION_RETIRE_AFTER_SECONDS": str(cfg.retire_after_seconds),
                "KEY_ROTATION_LOG_LEVEL": "INFO",
            },
            statements=signing_keys.rotation_statements(),
            memory_mb=256,
            timeout_seconds=30,
            # One rotation at a time: Secrets Manager runs the steps one after the other.
            reserved_concurrency=1,
        ),
    )
    # No dead-letter queue or async destination: Secrets Manager invokes the steps
    # synchronously and retries a failed rotation itself (the secret keeps AWSCURRENT).
    signing_keys.rotate_with(rotation.function_arn, cfg.rotation_days)
    return Secrets(
        signing_keys=signing_keys, key_rotation=rotation, auth_task_role_arn=auth_task_role_arn
    )
