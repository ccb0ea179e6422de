"""Whole-app wiring of the environment stacks: configuration reaches the constructs, and the
constructs are joined to each other (which key encrypts what). Construct behaviour itself is
tested on bare stacks in the construct's own test module."""

from __future__ import annotations

import fnmatch

import pytest

from tests.infra.helpers import ENVIRONMENTS, by_name_tag, one, policy, ref

CONFIGURED = {"dev": {"azs": 2, "nats": 1, "cidr": "10.10.0.0/16", "retention": 30},
              "prod": {"azs": 3, "nats": 3, "cidr": "10.20.0.0/16", "retention": 365}}  # fmt: skip


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_network_follows_the_environment_configuration(synthesized, env):
    expected = CONFIGURED[env]
    subnets = synthesized.resources(env, "aws_subnet").values()

    assert one(synthesized.resources(env, "aws_vpc"))["cidr_block"] == expected["cidr"]
    assert len({s["availability_zone"] for s in subnets}) == expected["azs"]
    assert len(synthesized.resources(env, "aws_nat_gateway")) == expected["nats"]


def test_prod_spans_three_azs(synthesized):
    private = [
        s
        for s in synthesized.resources("prod", "aws_subnet").values()
        if s["tags"]["Tier"] == "private"
    ]
    assert len(private) == 3


def _flow_log_group(synthesized, env):
    (group,) = [
        g
        for g in synthesized.resources(env, "aws_cloudwatch_log_group").values()
        if g["name"] == f"/vpc/checkins-{env}/flow-logs"
    ]
    return group


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_flow_log_group_is_encrypted_with_the_environment_logs_key(synthesized, env):
    group = _flow_log_group(synthesized, env)
    key_key, _ = by_name_tag(synthesized.resources(env, "aws_kms_key"), f"checkins-{env}-logs")

    assert group["kms_key_id"] == ref("aws_kms_key", key_key, "arn")
    assert group["retention_in_days"] == CONFIGURED[env]["retention"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_logs_key_lets_cloudwatch_logs_use_it_only_for_this_environments_groups(synthesized, env):
    _, key = by_name_tag(synthesized.resources(env, "aws_kms_key"), f"checkins-{env}-logs")
    statements = {s["Sid"]: s for s in policy(key)["Statement"]}
    logs = statements["CloudWatchLogsUsesKey"]

    assert key["enable_key_rotation"] is True
    assert logs["Principal"] == {"Service": "logs.eu-west-1.amazonaws.com"}
    group = "arn:aws:logs:eu-west-1:111122223333:log-group"
    assert logs["Condition"]["ArnLike"] == {
        "kms:EncryptionContext:aws:logs:arn": [
            f"{group}:/*/checkins-{env}/*",
            f"{group}:/aws/lambda/checkins-{env}-*",
            f"{group}:/aws/rds/*/checkins-{env}-*",
            f"{group}:aws-waf-logs-checkins-{env}-*",
        ]
    }
    flow_logs = _flow_log_group(synthesized, env)["name"]
    assert fnmatch.fnmatch(
        f"{group}:{flow_logs}",
        logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"][0],
    )


@pytest.mark.parametrize(("env", "protected"), [("dev", False), ("prod", True)])
def test_logs_key_and_flow_log_group_destroy_protection_follows_deletion_protection(
    synthesized, env, protected
):
    _, key = by_name_tag(synthesized.resources(env, "aws_kms_key"), f"checkins-{env}-logs")
    group = _flow_log_group(synthesized, env)

    for body in (key, group):
        assert body.get("lifecycle", {}).get("prevent_destroy", False) is protected
