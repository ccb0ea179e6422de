"""The WebAcl construct on a bare stack: managed rule groups and their overrides, rate rules,
the IP allow list variants, metrics, association, and logging with redaction."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from modules.aws_target import AwsTarget
from modules.props import PropsError
from modules.web_acl import IpAllowList, WebAclProps
from tests.infra.conftest import synth_construct
from tests.infra.helpers import one, ref

TARGET = AwsTarget(account_id="111122223333", region="eu-west-1")
ALB = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/app/app-prod/0123456789abcdef"  # fmt: skip
KEY = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
MANAGED = {
    "ip-reputation": "AWSManagedRulesAmazonIpReputationList",
    "known-bad-inputs": "AWSManagedRulesKnownBadInputsRuleSet",
    "common": "AWSManagedRulesCommonRuleSet",
    "sqli": "AWSManagedRulesSQLiRuleSet",
}


def _props(**overrides) -> WebAclProps:
    return replace(
        WebAclProps(name="app-prod", target=TARGET, resource_arn=ALB, log_kms_key_arn=KEY),
        **overrides,
    )


@pytest.fixture(scope="module")
def built():
    from modules.web_acl import WebAcl

    def build(**overrides):
        return synth_construct(lambda stack: WebAcl(stack, "waf", _props(**overrides)))

    return {
        "default": build(),
        "admin-paths": build(
            ip_allow_list=IpAllowList(
                cidrs=("203.0.113.0/24", "198.51.100.7/32"), path_prefixes=("/v1/admin",)
            ),
            rate_limit_per_ip=5000,
            login_rate_limit_per_ip=50,
            rate_window_seconds=60,
            login_path_prefix="/v1/auth/token",
            log_retention_days=365,
        ),
        "admin-paths-several": build(
            ip_allow_list=IpAllowList(cidrs=("203.0.113.0/24",), path_prefixes=("/v1/b", "/v1/a"))
        ),
        "allow-list-only": build(
            ip_allow_list=IpAllowList(cidrs=("203.0.113.0/24",)), common_rules_to_count=()
        ),
    }


def _acl(doc):
    return one(doc.resources("aws_wafv2_web_acl"))


def _rules(doc):
    return {r["name"]: r for r in _acl(doc)["rule"]}


def test_regional_acl_allows_by_default_with_metrics(built):
    acl = _acl(built["default"][1])
    assert acl["scope"] == "REGIONAL"
    assert acl["name"] == "app-prod"
    assert acl["default_action"] == {"allow": {}}
    assert acl["visibility_config"] == {"cloudwatch_metrics_enabled": True, "metric_name": "app-prod", "sampled_requests_enabled": True}  # fmt: skip


def test_the_four_aws_managed_groups_run_unoverridden(built):
    rules = _rules(built["default"][1])
    for rule_name, group in MANAGED.items():
        rule = rules[rule_name]
        statement = rule["statement"]["managed_rule_group_statement"]
        assert (statement["vendor_name"], statement["name"]) == ("AWS", group)
        assert rule["override_action"] == {"none": {}}
        assert "action" not in rule


def test_common_rule_set_only_counts_the_8kb_body_rule(built):
    common = _rules(built["default"][1])["common"]["statement"]["managed_rule_group_statement"]
    assert common["rule_action_override"] == [{"name": "SizeRestrictions_BODY", "action_to_use": {"count": {}}}]  # fmt: skip
    for other in ("known-bad-inputs", "sqli", "ip-reputation"):
        assert "rule_action_override" not in _rules(built["default"][1])[other]["statement"]["managed_rule_group_statement"]  # fmt: skip
    opted = _rules(built["allow-list-only"][1])["common"]["statement"]["managed_rule_group_statement"]  # fmt: skip
    assert "rule_action_override" not in opted


def test_rate_rule_per_ip_blocks_over_the_limit(built):
    rule = _rules(built["default"][1])["rate-per-ip"]
    assert rule["action"] == {"block": {}}
    assert rule["statement"] == {"rate_based_statement": {"limit": 1000, "aggregate_key_type": "IP", "evaluation_window_sec": 300}}  # fmt: skip
    variant = _rules(built["admin-paths"][1])["rate-per-ip"]["statement"]["rate_based_statement"]
    assert (variant["limit"], variant["evaluation_window_sec"]) == (5000, 60)


def test_login_rate_rule_is_scoped_down_to_the_decoded_login_path(built):
    rule = _rules(built["default"][1])["rate-login"]
    statement = rule["statement"]["rate_based_statement"]

    assert rule["action"] == {"block": {}}
    assert (statement["limit"], statement["aggregate_key_type"]) == (100, "IP")
    assert statement["scope_down_statement"] == {
        "byte_match_statement": {
            "field_to_match": {"uri_path": {}},
            "positional_constraint": "STARTS_WITH",
            "search_string": "/v1/token",
            "text_transformation": [{"priority": 0, "type": "URL_DECODE"}],
        }
    }
    variant = _rules(built["admin-paths"][1])["rate-login"]["statement"]["rate_based_statement"]
    assert variant["limit"] == 50
    assert variant["scope_down_statement"]["byte_match_statement"]["search_string"] == "/v1/auth/token"  # fmt: skip


def test_rule_priorities_are_distinct_and_stable(built):
    for variant in built.values():
        priorities = [r["priority"] for r in _acl(variant[1])["rule"]]
        assert len(set(priorities)) == len(priorities)
    assert {n: r["priority"] for n, r in _rules(built["default"][1]).items()} == {
        "ip-reputation": 10,
        "rate-per-ip": 20,
        "rate-login": 30,
        "known-bad-inputs": 40,
        "common": 50,
        "sqli": 60,
    }


def test_every_rule_has_a_stable_cloudwatch_metric(built):
    construct, doc = built["default"]
    for name, rule in _rules(doc).items():
        assert rule["visibility_config"] == {"cloudwatch_metrics_enabled": True, "metric_name": f"app-prod-{name}", "sampled_requests_enabled": True}  # fmt: skip
        assert construct.metric_names[name] == f"app-prod-{name}"
    assert construct.metric_names["acl"] == "app-prod"


def test_no_ip_set_without_an_allow_list(built):
    assert built["default"][1].resources("aws_wafv2_ip_set") == {}


def test_admin_paths_are_blocked_from_addresses_outside_the_set(built):
    _, doc = built["admin-paths"]
    (ip_set_key,) = doc.resources("aws_wafv2_ip_set")
    ip_set = one(doc.resources("aws_wafv2_ip_set"))
    rule = _rules(doc)["admin-paths-allow-list"]
    path, negated = rule["statement"]["and_statement"]["statement"]

    assert (ip_set["scope"], ip_set["ip_address_version"]) == ("REGIONAL", "IPV4")
    assert ip_set["addresses"] == ["198.51.100.7/32", "203.0.113.0/24"]
    assert rule["action"] == {"block": {}}
    assert rule["priority"] == 0
    assert path["byte_match_statement"]["search_string"] == "/v1/admin"
    assert path["byte_match_statement"]["text_transformation"] == [{"priority": 0, "type": "URL_DECODE"}]  # fmt: skip
    assert negated == {"not_statement": {"statement": [{"ip_set_reference_statement": {"arn": ref("aws_wafv2_ip_set", ip_set_key, "arn")}}]}}  # fmt: skip
    assert _acl(doc)["default_action"] == {"allow": {}}


def test_several_admin_prefixes_are_or_ed(built):
    path, _ = _rules(built["admin-paths-several"][1])["admin-paths-allow-list"]["statement"]["and_statement"]["statement"]  # fmt: skip
    searched = [s["byte_match_statement"]["search_string"] for s in path["or_statement"]["statement"]]  # fmt: skip
    assert searched == ["/v1/a", "/v1/b"]


def test_whole_acl_allow_list_blocks_by_default_and_allows_the_set_last(built):
    _, doc = built["allow-list-only"]
    (ip_set_key,) = doc.resources("aws_wafv2_ip_set")
    rules = _acl(doc)["rule"]

    assert _acl(doc)["default_action"] == {"block": {}}
    assert rules[-1]["name"] == "allow-list"
    assert rules[-1]["priority"] == max(r["priority"] for r in rules)
    assert rules[-1]["action"] == {"allow": {}}
    assert rules[-1]["statement"] == {"ip_set_reference_statement": {"arn": ref("aws_wafv2_ip_set", ip_set_key, "arn")}}  # fmt: skip
    assert "admin-paths-allow-list" not in _rules(doc)


def test_acl_is_associated_with_the_load_balancer(built):
    _, doc = built["default"]
    (acl_key,) = doc.resources("aws_wafv2_web_acl")
    association = one(doc.resources("aws_wafv2_web_acl_association"))
    assert association == {"resource_arn": ALB, "web_acl_arn": ref("aws_wafv2_web_acl", acl_key, "arn")}  # fmt: skip


def test_log_group_is_named_for_waf_encrypted_and_retained(built):
    construct, doc = built["default"]
    log_group = one(doc.resources("aws_cloudwatch_log_group"))
    assert log_group["name"] == "aws-waf-logs-app-prod" == construct.log_group_name
    assert log_group["kms_key_id"] == KEY
    assert log_group["retention_in_days"] == 90
    assert one(built["admin-paths"][1].resources("aws_cloudwatch_log_group"))["retention_in_days"] == 365  # fmt: skip


def test_logging_goes_to_the_log_group_with_credentials_redacted(built):
    _, doc = built["default"]
    (acl_key,) = doc.resources("aws_wafv2_web_acl")
    (group_key,) = doc.resources("aws_cloudwatch_log_group")
    (policy_key,) = doc.resources("aws_cloudwatch_log_resource_policy")
    logging = one(doc.resources("aws_wafv2_web_acl_logging_configuration"))

    assert logging["resource_arn"] == ref("aws_wafv2_web_acl", acl_key, "arn")
    assert logging["log_destination_configs"] == [ref("aws_cloudwatch_log_group", group_key, "arn")]  # fmt: skip
    assert logging["redacted_fields"] == [
        {"single_header": {"name": "authorization"}},
        {"single_header": {"name": "cookie"}},
    ]
    assert logging["depends_on"] == [f"aws_cloudwatch_log_resource_policy.{policy_key}"]


def test_log_delivery_policy_is_limited_to_the_group_and_this_account(built):
    resource_policy = one(built["default"][1].resources("aws_cloudwatch_log_resource_policy"))
    (statement,) = json.loads(resource_policy["policy_document"])["Statement"]

    assert resource_policy["policy_name"] == "aws-waf-logs-app-prod"
    assert statement["Principal"] == {"Service": "delivery.logs.amazonaws.com"}
    assert statement["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert statement["Resource"] == "arn:aws:logs:eu-west-1:111122223333:log-group:aws-waf-logs-app-prod:log-stream:*"  # fmt: skip
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "111122223333"},
        "ArnLike": {"aws:SourceArn": "arn:aws:logs:eu-west-1:111122223333:*"},
    }


def test_capacity_estimate_counts_groups_rate_rules_and_the_allow_list(built):
    assert built["default"][0].estimated_wcu == 700 + 200 + 200 + 25 + 2 + 2 + 12
    assert built["admin-paths"][0].estimated_wcu == 1141 + 1 + 12
    assert built["allow-list-only"][0].estimated_wcu == 1141 + 1


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: _props(name="app prod"), "WebAclProps.name"),
        (lambda: _props(resource_arn="arn:aws:s3:::bucket"), "WebAclProps.resource_arn"),
        (lambda: _props(log_kms_key_arn="alias/logs"), "WebAclProps.log_kms_key_arn"),
        (lambda: _props(log_retention_days=10), "WebAclProps.log_retention_days"),
        (lambda: _props(rate_limit_per_ip=9), "WebAclProps.rate_limit_per_ip"),
        (lambda: _props(rate_limit_per_ip=2_000_000_001), "WebAclProps.rate_limit_per_ip"),
        (lambda: _props(login_rate_limit_per_ip=9), "WebAclProps.login_rate_limit_per_ip"),
        (lambda: _props(login_rate_limit_per_ip=2000), "WebAclProps.login_rate_limit_per_ip"),
        (lambda: _props(rate_window_seconds=30), "WebAclProps.rate_window_seconds"),
        (lambda: _props(login_path_prefix="v1/token"), "WebAclProps.login_path_prefix"),
        (
            lambda: _props(common_rules_to_count=("SizeRestriction_BODY",)),
            "WebAclProps.common_rules_to_count",
        ),
        (lambda: _props(redacted_headers=("Authorization",)), "WebAclProps.redacted_headers"),
        (
            lambda: _props(
                ip_allow_list=IpAllowList(
                    cidrs=("203.0.113.0/24",), path_prefixes=tuple(f"/admin{i}" for i in range(30))
                )
            ),
            "WebAclProps.ip_allow_list",
        ),
        (lambda: IpAllowList(cidrs=()), "IpAllowList.cidrs"),
        (lambda: IpAllowList(cidrs=("203.0.113.1/24",)), "IpAllowList.cidrs"),
        (lambda: IpAllowList(cidrs=("0.0.0.0/0",)), "IpAllowList.cidrs"),
        (lambda: IpAllowList(cidrs=("2001:db8::/32",)), "IpAllowList.cidrs"),
        (lambda: IpAllowList(cidrs=("not-a-cidr",)), "IpAllowList.cidrs"),
        (
            lambda: IpAllowList(cidrs=("203.0.113.0/24",), path_prefixes=("admin",)),
            "IpAllowList.path_prefixes",
        ),
    ],
)
def test_bad_props_fail_with_the_field_named(build, field):
    with pytest.raises(PropsError, match=f"^{field}: "):
        build()
