"""Whole-app wiring of the edge: the load balancer sits in the public subnets of the
environment's VPC, answers the configured domain with TLS 1.2+, routes the auth service's and
the app's paths to their own target groups, and the web ACL (limits from config) guards it, its
logs encrypted with the environment's logs key. Construct behaviour is tested in
test_load_balancer.py and test_web_acl.py."""

from __future__ import annotations

import fnmatch

import pytest

from tests.infra.helpers import ENVIRONMENTS, by_name_tag, one, policy, ref

DOMAINS = {"dev": "api.dev.checkins.example.com", "prod": "api.checkins.example.com"}
RATE_LIMITS = {"dev": (1000, 100), "prod": (2000, 100)}


def _lb(synthesized, env):
    return one(synthesized.resources(env, "aws_lb"))


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_load_balancer_is_internet_facing_in_the_public_subnets(synthesized, env):
    lb = _lb(synthesized, env)
    public = sorted(
        ref("aws_subnet", key)
        for key, body in synthesized.resources(env, "aws_subnet").items()
        if "-public-" in body["tags"]["Name"]
    )

    assert lb["internal"] is False
    assert lb["name"] == f"checkins-{env}"
    assert sorted(lb["subnets"]) == public and len(public) >= 2
    assert lb["drop_invalid_header_fields"] is True


@pytest.mark.parametrize(("env", "protected"), [("dev", False), ("prod", True)])
def test_deletion_protection_follows_the_environment(synthesized, env, protected):
    lb = _lb(synthesized, env)
    (bucket,) = [
        body
        for body in synthesized.resources(env, "aws_s3_bucket").values()
        if body["bucket"] == f"checkins-{env}-alb-logs-111122223333"
    ]

    assert lb["enable_deletion_protection"] is protected
    assert bucket.get("lifecycle", {}).get("prevent_destroy", False) is protected


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_https_listener_serves_the_configured_domain_with_a_modern_tls_policy(synthesized, env):
    certificate = one(synthesized.resources(env, "aws_acm_certificate"))
    listeners = {b["port"]: b for b in synthesized.resources(env, "aws_lb_listener").values()}

    assert certificate["domain_name"] == DOMAINS[env]
    assert certificate["validation_method"] == "DNS"
    # External validation: no records in a zone of this stack, the listener waits for issue.
    assert synthesized.resources(env, "aws_route53_record") == {}
    validation_key = next(iter(synthesized.resources(env, "aws_acm_certificate_validation")))
    assert listeners[443]["certificate_arn"] == ref(
        "aws_acm_certificate_validation", validation_key, "certificate_arn"
    )
    assert listeners[443]["ssl_policy"].startswith("ELBSecurityPolicy-TLS13-1-2")
    assert listeners[80]["default_action"][0]["type"] == "redirect"
    outputs = synthesized.stacks[env]["output"]
    assert "domain_validation_options" in outputs["certificate_validation_records"]["value"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_service_gets_its_own_paths_and_target_group(synthesized, env):
    groups = synthesized.resources(env, "aws_lb_target_group")
    rules = synthesized.resources(env, "aws_lb_listener_rule").values()
    by_group = {
        rule["action"][0]["target_group_arn"]: rule["condition"][0]["path_pattern"]["values"]
        for rule in rules
    }
    key_of = {body["name"]: key for key, body in groups.items()}

    assert set(key_of) == {f"checkins-{env}-auth", f"checkins-{env}-app"}
    auth_paths = by_group[ref("aws_lb_target_group", key_of[f"checkins-{env}-auth"], "arn")]
    app_paths = by_group[ref("aws_lb_target_group", key_of[f"checkins-{env}-app"], "arn")]
    # Every path the services serve reaches its own service, none the other's.
    for path in ("/v1/token", "/v1/token/refresh", "/v1/users", "/v1/api-keys/k1",
                 "/.well-known/jwks.json"):  # fmt: skip
        assert any(fnmatch.fnmatchcase(path, p) for p in auth_paths), path
        assert not any(fnmatch.fnmatchcase(path, p) for p in app_paths), path
    for path in ("/v1/devices", "/v1/devices/d1/checkins"):
        assert any(fnmatch.fnmatchcase(path, p) for p in app_paths), path
        assert not any(fnmatch.fnmatchcase(path, p) for p in auth_paths), path
    for group in groups.values():
        assert group["target_type"] == "ip"
        assert group["port"] == 8000
        assert group["health_check"]["path"] == "/health"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_load_balancer_reaches_only_the_vpc_on_the_service_port(synthesized, env):
    sg_key, _ = by_name_tag(synthesized.resources(env, "aws_security_group"), f"checkins-{env}-alb")  # fmt: skip
    vpc = one(synthesized.resources(env, "aws_vpc"))
    egress = [
        rule
        for rule in synthesized.resources(env, "aws_vpc_security_group_egress_rule").values()
        if rule["security_group_id"] == ref("aws_security_group", sg_key)
    ]

    assert [(r["from_port"], r["to_port"], r["cidr_ipv4"]) for r in egress] == [
        (8000, 8000, vpc["cidr_block"])
    ]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_web_acl_guards_the_load_balancer_with_limits_from_config(synthesized, env):
    acl_key, acl = next(iter(synthesized.resources(env, "aws_wafv2_web_acl").items()))
    association = one(synthesized.resources(env, "aws_wafv2_web_acl_association"))
    lb_key = next(iter(synthesized.resources(env, "aws_lb")))
    rules = {rule["name"]: rule for rule in acl["rule"]}
    general, login = RATE_LIMITS[env]

    assert association == {
        **association,
        "resource_arn": ref("aws_lb", lb_key, "arn"),
        "web_acl_arn": ref("aws_wafv2_web_acl", acl_key, "arn"),
    }
    assert rules["rate-per-ip"]["statement"]["rate_based_statement"]["limit"] == general
    login_rule = rules["rate-login"]["statement"]["rate_based_statement"]
    assert login_rule["limit"] == login
    assert login_rule["scope_down_statement"]["byte_match_statement"]["search_string"] == "/v1/token"  # fmt: skip
    assert acl["default_action"] == {"allow": {}}  # no allow list configured


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_waf_logs_go_to_a_group_the_logs_key_admits(synthesized, env):
    logs_key, key = by_name_tag(synthesized.resources(env, "aws_kms_key"), f"checkins-{env}-logs")
    (group,) = [
        g
        for g in synthesized.resources(env, "aws_cloudwatch_log_group").values()
        if g["name"].startswith("aws-waf-logs-")
    ]
    statements = {s["Sid"]: s for s in policy(key)["Statement"]}
    patterns = statements["CloudWatchLogsUsesKey"]["Condition"]["ArnLike"][
        "kms:EncryptionContext:aws:logs:arn"
    ]
    arn = f"arn:aws:logs:eu-west-1:111122223333:log-group:{group['name']}"

    assert group["name"] == f"aws-waf-logs-checkins-{env}-api"
    assert group["kms_key_id"] == ref("aws_kms_key", logs_key, "arn")
    assert any(fnmatch.fnmatchcase(arn, p) for p in patterns)
    logging = one(synthesized.resources(env, "aws_wafv2_web_acl_logging_configuration"))
    assert {"single_header": {"name": "authorization"}} in logging["redacted_fields"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_outputs_the_compute_layer_reads_exist(synthesized, env):
    outputs = synthesized.stacks[env]["output"]

    for name in ("load_balancer_dns_name", "load_balancer_security_group_id",
                 "load_balancer_arn_suffix", "auth_target_group_arn", "app_target_group_arn",
                 "auth_target_group_arn_suffix", "app_target_group_arn_suffix", "web_acl_arn"):  # fmt: skip
        assert name in outputs, name
