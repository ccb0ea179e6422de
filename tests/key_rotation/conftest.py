"""moto's Secrets Manager and KMS in process; the key-set secret created empty, as Terraform
creates it, encrypted with a customer KMS key."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from key_rotation.config import RotationSettings
from moto import mock_aws

from tests.key_rotation.rotation_driver import REGION, SecretsManagerRotation, patch_moto

START = 1_800_000_000.0  # 2027-01-15T08:00:00Z: a fixed start, the clock moves by hand


class Clock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def aws(monkeypatch) -> Iterator[None]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",  # moto's fake credentials
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SECRETS_MANAGER"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        patch_moto(monkeypatch)
        yield


@pytest.fixture
def secrets(aws) -> Any:
    return boto3.client("secretsmanager", region_name=REGION)


@pytest.fixture
def kms_key_arn(aws) -> str:
    kms = boto3.client("kms", region_name=REGION)
    return kms.create_key(Description="secrets key")["KeyMetadata"]["Arn"]


@pytest.fixture
def secret_arn(secrets, kms_key_arn) -> str:
    """No value: Terraform creates the secret without a version; the first rotation fills it."""
    return secrets.create_secret(Name="checkins-test-auth-signing-keys", KmsKeyId=kms_key_arn)[
        "ARN"
    ]


@pytest.fixture
def settings() -> RotationSettings:
    return RotationSettings()  # the defaults: publish after 1 h, retire 2 h after replacement


@pytest.fixture
def rotation(secrets, secret_arn, settings, clock) -> SecretsManagerRotation:
    driver = SecretsManagerRotation(secrets, secret_arn, settings, clock)
    driver.enable()
    return driver
