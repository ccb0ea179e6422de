"""Names AWS wants unique per account (and region) never collide across the stacks of one
account: every environment (and the bootstrap stack) can share an account.

Every resource type with a name-like argument must be classified here, so a type added later
cannot slip past the check unreviewed."""

from __future__ import annotations

import itertools

import pytest

# Type -> the argument AWS requires to be unique in the account (and region, where regional).
ACCOUNT_UNIQUE = {
    "aws_cloudwatch_log_group": "name",
    "aws_db_instance": "identifier",
    "aws_db_parameter_group": "name",
    "aws_db_subnet_group": "name",
    "aws_rds_cluster": "cluster_identifier",
    "aws_rds_cluster_parameter_group": "name",
    "aws_iam_role": "name",
    "aws_iam_policy": "name",
    "aws_kms_alias": "name",
    "aws_keyspaces_keyspace": "name",
    "aws_lambda_function": "function_name",
    "aws_lb": "name",
    "aws_lb_target_group": "name",
    "aws_wafv2_ip_set": "name",
    "aws_wafv2_web_acl": "name",
    "aws_secretsmanager_secret": "name",
    "aws_s3_bucket": "bucket",  # global: unique across every account
}
# Named, but unique only inside something an environment owns alone.
SCOPED_NAMES = {
    "aws_iam_role_policy": "per role",
    "aws_appautoscaling_policy": "per scalable target (a table of the environment)",
    "aws_keyspaces_table": "per keyspace",
    "aws_lambda_permission": "statement_id, per function",
    "aws_security_group": "per VPC",
}
# `bucket` is left out: every aws_s3_bucket_* resource names its bucket by that argument.
NAME_ARGUMENTS = ("name", "name_prefix", "function_name", "statement_id")


def _names(synthesized, stack, resource_type, argument):
    return {
        body[argument]
        for body in synthesized.resources(stack, resource_type).values()
        if argument in body
    }


def test_every_named_resource_type_is_classified(synthesized):
    unclassified = sorted(
        {
            resource_type
            for stack in synthesized.stacks.values()
            for resource_type, bodies in stack.get("resource", {}).items()
            if any(arg in body for body in bodies.values() for arg in NAME_ARGUMENTS)
        }
        - set(ACCOUNT_UNIQUE)
        - set(SCOPED_NAMES)
    )
    assert unclassified == [], "classify these in ACCOUNT_UNIQUE or SCOPED_NAMES"


@pytest.mark.parametrize("resource_type", sorted(ACCOUNT_UNIQUE))
def test_account_unique_names_do_not_collide_across_stacks(synthesized, resource_type):
    argument = ACCOUNT_UNIQUE[resource_type]
    for a, b in itertools.combinations(sorted(synthesized.stacks), 2):
        shared = _names(synthesized, a, resource_type, argument) & _names(
            synthesized, b, resource_type, argument
        )
        assert shared == set(), f"{resource_type} {sorted(shared)} in both {a} and {b}"


def test_keyspace_is_named_per_environment(synthesized):
    assert _names(synthesized, "dev", "aws_keyspaces_keyspace", "name") == {"checkins_dev"}
    assert _names(synthesized, "prod", "aws_keyspaces_keyspace", "name") == {"checkins_prod"}
    for env in ("dev", "prod"):
        output = synthesized.stacks[env]["output"]["keyspace_name"]["value"]
        assert output == f"checkins_{env}"


# One per account and unnamed: counted per account instead.
ONE_PER_ACCOUNT = ("aws_s3_account_public_access_block",)


@pytest.mark.parametrize("resource_type", ONE_PER_ACCOUNT)
def test_account_wide_settings_exist_once_per_account(synthesized, resource_type):
    owners: dict[str, list[str]] = {}
    for name, stack in synthesized.stacks.items():
        (provider,) = stack["provider"]["aws"]
        (account,) = provider["allowed_account_ids"]
        owners.setdefault(account, [])
        owners[account] += [name] * len(synthesized.resources(name, resource_type))
    assert {account: len(stacks) for account, stacks in owners.items()} == dict.fromkeys(owners, 1)
