"""The environment's secrets key: rotating, and usable by this account's principals only
through Secrets Manager (reading a secret decrypts it; nothing else may)."""

from __future__ import annotations

import pytest

from tests.infra.helpers import ENVIRONMENTS, by_name_tag, policy


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_secrets_key_is_usable_only_through_secrets_manager(synthesized, env):
    _, key = by_name_tag(synthesized.resources(env, "aws_kms_key"), f"checkins-{env}-secrets")
    statements = {s["Sid"]: s for s in policy(key)["Statement"]}

    assert key["enable_key_rotation"] is True
    assert "kms:Decrypt" not in statements["AccountAdministersKey"]["Action"]
    assert statements["AccountUsesKeyThroughServices"]["Condition"]["StringEquals"] == {
        "kms:CallerAccount": "111122223333",
        "kms:ViaService": ["secretsmanager.eu-west-1.amazonaws.com"],
    }


@pytest.mark.parametrize(("env", "protected"), [("dev", False), ("prod", True)])
def test_secrets_key_destroy_protection_follows_deletion_protection(synthesized, env, protected):
    _, key = by_name_tag(synthesized.resources(env, "aws_kms_key"), f"checkins-{env}-secrets")
    assert key.get("lifecycle", {}).get("prevent_destroy", False) is protected
