"""The SigningKeySecret construct on a bare stack: an empty secret with a customer key, a policy
that caps who reads and who writes it, and rotation by a Lambda function."""

from __future__ import annotations

from dataclasses import replace

import pytest

from modules.aws_target import AwsTarget
from modules.props import PropsError
from modules.signing_key_secret import ROTATION_ACTIONS, SigningKeySecretProps
from tests.infra.conftest import synth_construct
from tests.infra.helpers import one, policy, ref

TARGET = AwsTarget(account_id="111122223333", region="eu-west-1")
KEY = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
READER = "arn:aws:iam::111122223333:role/app-auth-task"
ROTATOR = "arn:aws:iam::111122223333:role/app-rotation"
FUNCTION = "arn:aws:lambda:eu-west-1:111122223333:function:app-rotation"


def _props(**overrides) -> SigningKeySecretProps:
    return replace(
        SigningKeySecretProps(
            secret_name="app/auth/jwt-signing-keys",
            target=TARGET,
            kms_key_arn=KEY,
            reader_role_arns=(READER,),
            rotation_role_arn=ROTATOR,
        ),
        **overrides,
    )


@pytest.fixture(scope="module")
def built():
    from modules.signing_key_secret import SigningKeySecret

    def build(stack):
        secret = SigningKeySecret(stack, "keys", _props())
        secret.rotate_with(FUNCTION, 30)
        return secret

    return synth_construct(build)


def test_secret_is_encrypted_with_the_key_and_has_no_version_in_terraform(built):
    _, doc = built
    secret = one(doc.resources("aws_secretsmanager_secret"))

    assert secret["kms_key_id"] == KEY
    assert secret["recovery_window_in_days"] == 30
    assert secret["lifecycle"] == {"prevent_destroy": True}
    assert doc.resources("aws_secretsmanager_secret_version") == {}


def test_only_the_readers_and_the_rotation_role_may_get_the_value(built):
    _, doc = built
    body = one(doc.resources("aws_secretsmanager_secret_policy"))
    statements = {s["Sid"]: s for s in policy(body)["Statement"]}
    deny = statements["OnlyReadersGetTheValue"]

    assert body["block_public_policy"] is True
    assert deny["Effect"] == "Deny" and deny["Principal"] == {"AWS": "*"}
    assert deny["Action"] == "secretsmanager:GetSecretValue"
    assert deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": sorted([READER, ROTATOR])}}
    assert not [s for s in statements.values() if s["Effect"] == "Allow"]


def test_only_the_rotation_role_may_write_versions(built):
    deny = {s["Sid"]: s for s in policy(one(built[1].resources("aws_secretsmanager_secret_policy")))["Statement"]}["OnlyRotationWritesTheValue"]  # fmt: skip
    assert deny["Effect"] == "Deny"
    assert deny["Action"] == ["secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"]  # fmt: skip
    assert deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": ROTATOR}}


def test_rotation_runs_on_the_schedule_after_secrets_manager_may_invoke_the_function(built):
    _, doc = built
    (secret_key,) = doc.resources("aws_secretsmanager_secret")
    (permission_key,) = doc.resources("aws_lambda_permission")
    permission = one(doc.resources("aws_lambda_permission"))
    rotation = one(doc.resources("aws_secretsmanager_secret_rotation"))

    assert permission["principal"] == "secretsmanager.amazonaws.com"
    assert permission["source_arn"] == ref("aws_secretsmanager_secret", secret_key, "arn")
    assert permission["source_account"] == "111122223333"
    assert permission["function_name"] == FUNCTION
    assert rotation["rotation_lambda_arn"] == FUNCTION
    assert rotation["rotation_rules"] == {"automatically_after_days": 30}
    assert rotation["rotate_immediately"] is True
    assert rotation["depends_on"] == [f"aws_lambda_permission.{permission_key}"]


def test_rotation_statements_are_the_four_calls_on_this_secret_and_the_key_through_it(built):
    construct, doc = built
    (secret_key,) = doc.resources("aws_secretsmanager_secret")
    arn = ref("aws_secretsmanager_secret", secret_key, "arn")
    calls, key = [s.render() for s in construct.rotation_statements()]

    assert calls["Action"] == list(ROTATION_ACTIONS) and "secretsmanager:GetRandomPassword" not in calls["Action"]  # fmt: skip
    assert construct.secret_arn.startswith("${") and calls["Resource"] == construct.secret_arn
    assert key["Resource"] == KEY
    assert key["Condition"] == {
        "StringEquals": {
            "kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com",
            "kms:EncryptionContext:SecretARN": construct.secret_arn,
        }
    }
    assert arn  # the reference exists in the JSON


def test_reader_statements_only_get_the_value(built):
    construct, _ = built
    read, key = [s.render() for s in construct.reader_statements()]
    assert read["Action"] == "secretsmanager:GetSecretValue"
    assert key["Action"] == "kms:Decrypt"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"secret_name": "bad name!"}, "SigningKeySecretProps.secret_name"),
        ({"recovery_window_days": 0}, "SigningKeySecretProps.recovery_window_days"),
        ({"reader_role_arns": ()}, "SigningKeySecretProps.reader_role_arns"),
        (
            {"reader_role_arns": ("arn:aws:iam::111122223333:user/x",)},
            "SigningKeySecretProps.reader_role_arns",
        ),
        ({"kms_key_arn": "alias/secrets"}, "SigningKeySecretProps.kms_key_arn"),
    ],
)
def test_bad_props_fail_with_the_field_named(overrides, field):
    with pytest.raises(PropsError, match=f"^{field}: "):
        _props(**overrides)


def test_rotation_schedule_out_of_range_fails_naming_it():
    from modules.signing_key_secret import SigningKeySecret

    def build(stack):
        SigningKeySecret(stack, "keys", _props()).rotate_with(FUNCTION, 0)

    with pytest.raises(PropsError, match="every_days"):
        synth_construct(build)
