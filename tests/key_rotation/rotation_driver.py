"""Plays Secrets Manager's part of a rotation against moto, in process.

moto cannot invoke a rotation Lambda (its Lambda runs code in Docker, absent here), does not
create the pending version of a secret that has no value yet, and refuses to move AWSCURRENT
onto a version when no version holds it (the first fill; fixed upstream in moto PR #9474). So
this driver does what RotateSecret does on AWS: it turns rotation on, stages a value-less
AWSPENDING version for a new ClientRequestToken, and calls the real handler code for the four
steps in order, as Secrets Manager invokes the function. Everything the handler does goes
through boto3 to moto's Secrets Manager API.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from key_rotation.config import RotationSettings
from key_rotation.handler import STEPS, rotate
from moto.secretsmanager.models import SecretsManagerBackend, secretsmanager_backends

ACCOUNT = "123456789012"
REGION = "eu-west-1"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:checkins-test-key-rotation"

_moto_update_stage = SecretsManagerBackend.update_secret_version_stage


def _update_stage_allowing_first_current(
    self: SecretsManagerBackend,
    secret_id: str,
    version_stage: str,
    remove_from_version_id: str,
    move_to_version_id: str,
) -> tuple[str, str]:
    """AWS accepts moving AWSCURRENT without RemoveFromVersionId when no version holds it."""
    secret = self.secrets[secret_id]
    holders = [v for v, d in secret.versions.items() if version_stage in d["version_stages"]]
    if version_stage == "AWSCURRENT" and not remove_from_version_id and not holders:
        secret.versions[move_to_version_id]["version_stages"].append(version_stage)
        secret.set_default_version_id(move_to_version_id)
        return secret.arn, secret.name
    result = _moto_update_stage(
        self, secret_id, version_stage, remove_from_version_id, move_to_version_id
    )
    if version_stage == "AWSCURRENT":  # moto leaves its default version behind
        secret.set_default_version_id(move_to_version_id)
    return result


def patch_moto(monkeypatch: Any) -> None:
    monkeypatch.setattr(
        SecretsManagerBackend, "update_secret_version_stage", _update_stage_allowing_first_current
    )


class SecretsManagerRotation:
    def __init__(
        self,
        client: Any,
        secret_arn: str,
        settings: RotationSettings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.arn = secret_arn
        self.settings = settings
        self.clock = clock

    @property
    def _secret(self) -> Any:
        return secretsmanager_backends[ACCOUNT][REGION].secrets[self.arn]

    def enable(self) -> None:
        """What `aws_secretsmanager_secret_rotation` turns on."""
        secret = self._secret
        secret.rotation_requested = secret.rotation_enabled = True
        secret.rotation_lambda_arn = FUNCTION_ARN
        secret.auto_rotate_after_days = 30

    def start(self) -> str:
        """RotateSecret: a new token, staged AWSPENDING on a version without a value."""
        token = str(uuid.uuid4())
        secret = self._secret
        secret.remove_version_stages_from_old_versions(["AWSPENDING"])
        secret.versions[token] = {
            "createdate": int(self.clock()),
            "version_id": token,
            "version_stages": ["AWSPENDING"],
        }
        return token

    def step(self, token: str, step: str) -> None:
        """One invocation of the function, with the event Secrets Manager sends."""
        event = {"SecretId": self.arn, "ClientRequestToken": token, "Step": step}
        rotate(self.client, event, self.settings, clock=self.clock)

    def rotate(self) -> str:
        token = self.start()
        for step in STEPS:
            self.step(token, step)
        return token
