"""The EncryptionKey construct on a bare stack: rotation, alias, and a key policy that names
only the principals each option asks for."""

from __future__ import annotations

from dataclasses import replace

import pytest

from modules.aws_target import AwsTarget
from modules.encryption_key import EncryptionKeyProps
from modules.props import PropsError
from tests.infra.conftest import synth_construct
from tests.infra.helpers import one, policy, ref

TARGET = AwsTarget(account_id="111122223333", region="eu-west-1")


def _props(**overrides) -> EncryptionKeyProps:
    base = EncryptionKeyProps(alias="app-test", description="test key", target=TARGET)
    return replace(base, **overrides)


@pytest.fixture(scope="module")
def built():
    from modules.encryption_key import EncryptionKey

    variants = {
        "default": _props(),
        "logs": _props(
            log_group_arn_patterns=("arn:aws:logs:eu-west-1:111122223333:log-group:/x/*",)
        ),
        "services": _props(service_principals=("s3.amazonaws.com",)),
        "via": _props(via_services=("cassandra.eu-west-1.amazonaws.com",)),
    }
    return {
        name: synth_construct(lambda stack, p=props: EncryptionKey(stack, "key", p))
        for name, props in variants.items()
    }


def _statements(doc):
    return {s["Sid"]: s for s in policy(one(doc.resources("aws_kms_key")))["Statement"]}


def test_key_rotates_yearly_and_waits_the_longest_window_before_deletion(built):
    _, doc = built["default"]
    key = one(doc.resources("aws_kms_key"))

    assert key["enable_key_rotation"] is True and key["rotation_period_in_days"] == 365
    assert key["deletion_window_in_days"] == 30


def test_alias_points_at_the_key_and_is_exposed(built):
    construct, doc = built["default"]
    ((key_id, _),) = doc.resources("aws_kms_key").items()
    alias = one(doc.resources("aws_kms_alias"))

    assert alias["name"] == "alias/app-test"
    assert alias["target_key_id"] == ref("aws_kms_key", key_id, "key_id")
    assert construct.key_arn.startswith("${") and construct.alias_arn.startswith("${")


def test_by_default_only_the_account_administers_the_key(built):
    _, doc = built["default"]

    assert list(_statements(doc)) == ["AccountAdministersKey"]
    assert _statements(doc)["AccountAdministersKey"]["Principal"] == {
        "AWS": "arn:aws:iam::111122223333:root"
    }


def test_logs_may_use_the_key_only_for_the_given_log_groups(built):
    logs = _statements(built["logs"][1])["CloudWatchLogsUsesKey"]

    assert logs["Principal"] == {"Service": "logs.eu-west-1.amazonaws.com"}
    assert logs["Condition"] == {
        "ArnLike": {
            "kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:eu-west-1:111122223333:log-group:/x/*"
        }
    }


def test_service_principals_use_the_key_only_for_this_account(built):
    services = _statements(built["services"][1])["ServicesUseKeyForThisAccount"]

    assert services["Principal"] == {"Service": ["s3.amazonaws.com"]}
    assert services["Condition"] == {"StringEquals": {"aws:SourceAccount": "111122223333"}}


def test_via_services_limits_account_principals_to_those_services(built):
    via = _statements(built["via"][1])["AccountUsesKeyThroughServices"]

    assert via["Condition"] == {
        "StringEquals": {
            "kms:CallerAccount": "111122223333",
            "kms:ViaService": ["cassandra.eu-west-1.amazonaws.com"],
        }
    }


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"alias": "aws/s3"}, "EncryptionKeyProps.alias"),
        ({"alias": "has space"}, "EncryptionKeyProps.alias"),
        ({"deletion_window_days": 6}, "EncryptionKeyProps.deletion_window_days"),
        ({"deletion_window_days": 31}, "EncryptionKeyProps.deletion_window_days"),
    ],
)
def test_bad_props_fail_with_the_field_named(overrides, field):
    with pytest.raises(PropsError, match=f"^{field}: "):
        _props(**overrides)
