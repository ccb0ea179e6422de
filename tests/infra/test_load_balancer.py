"""The LoadBalancer construct on a bare stack: TLS, redirect-only HTTP, its security group, the
SSE-S3 access-log bucket, the DNS-validated certificate and the routes' target groups."""

from __future__ import annotations

from dataclasses import replace

import pytest

from modules.aws_target import AwsTarget
from modules.load_balancer import LoadBalancerProps, Route, alb_log_delivery_statement
from modules.props import PropsError
from tests.infra.conftest import synth_construct
from tests.infra.helpers import one, policy, ref

TARGET = AwsTarget(account_id="111122223333", region="eu-west-1")
ROUTES = (
    Route(name="auth", priority=10, target_port=8001, path_patterns=("/v1/token*", "/v1/users*")),
    Route(name="app", priority=20, target_port=8000, path_patterns=("/v1/devices*",)),
)


def _props(**overrides) -> LoadBalancerProps:
    return replace(
        LoadBalancerProps(
            name="app-prod",
            target=TARGET,
            vpc_id="vpc-0123456789abcdef0",
            vpc_cidr="10.0.0.0/16",
            public_subnet_ids=("subnet-a", "subnet-b"),
            domain_name="api.example.com",
            subject_alternative_names=("*.api.example.com", "auth.example.com"),
            zone_id="Z0123456789ABCDEFGHIJ",
            log_bucket_name="app-prod-alb-logs",
            routes=ROUTES,
        ),
        **overrides,
    )


@pytest.fixture(scope="module")
def built():
    from modules.load_balancer import LoadBalancer

    def build(**overrides):
        return synth_construct(lambda stack: LoadBalancer(stack, "edge", _props(**overrides)))

    return {
        "default": synth_construct(_with_outputs),
        "no-zone": build(zone_id=None, subject_alternative_names=()),
        "no-wait": build(
            zone_id=None,
            wait_for_certificate=False,
            ssl_policy="ELBSecurityPolicy-TLS13-1-3-2021-06",
            desync_mitigation_mode="strictest",
            deletion_protection=False,
            idle_timeout_seconds=120,
            deregistration_delay_seconds=5,
            hsts=None,
            routes=(
                Route(name="app", priority=5, target_port=8000, host_headers=("app.example.com",)),
            ),
        ),
    }


def _listener(doc, port):
    (body,) = [b for b in doc.resources("aws_lb_listener").values() if b["port"] == port]
    return body


def test_https_listener_names_a_tls13_policy_explicitly(built):
    assert _listener(built["default"][1], 443)["ssl_policy"] == "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"  # fmt: skip
    assert (
        _listener(built["no-wait"][1], 443)["ssl_policy"] == "ELBSecurityPolicy-TLS13-1-3-2021-06"
    )
    assert _listener(built["default"][1], 443)["protocol"] == "HTTPS"


def test_http_listener_only_redirects_to_https_with_301(built):
    _, doc = built["default"]
    http = _listener(doc, 80)
    (http_key,) = [k for k, b in doc.resources("aws_lb_listener").items() if b["port"] == 80]

    assert http["protocol"] == "HTTP"
    assert http["default_action"] == [
        {
            "type": "redirect",
            "redirect": {"port": "443", "protocol": "HTTPS", "status_code": "HTTP_301"},
        }
    ]
    assert "certificate_arn" not in http and "ssl_policy" not in http
    # No rule of the HTTP listener can forward anything.
    assert all(http_key not in r["listener_arn"] for r in doc.resources("aws_lb_listener_rule").values())  # fmt: skip


def test_https_default_answer_is_a_json_404(built):
    (action,) = _listener(built["default"][1], 443)["default_action"]
    assert action == {
        "type": "fixed-response",
        "fixed_response": {
            "content_type": "application/json",
            "message_body": '{"detail":"Not Found"}',
            "status_code": "404",
        },
    }


def test_https_adds_hsts_unless_opted_out(built):
    assert _listener(built["default"][1], 443)["routing_http_response_strict_transport_security_header_value"] == "max-age=31536000; includeSubDomains"  # fmt: skip
    assert "routing_http_response_strict_transport_security_header_value" not in _listener(built["no-wait"][1], 443)  # fmt: skip


def test_security_group_admits_exactly_443_and_80_from_anywhere(built):
    _, doc = built["default"]
    (sg_key,) = doc.resources("aws_security_group")
    sg = one(doc.resources("aws_security_group"))
    ingress = sorted(
        (r["from_port"], r["to_port"], r["ip_protocol"], r["cidr_ipv4"], r["security_group_id"])
        for r in doc.resources("aws_vpc_security_group_ingress_rule").values()
    )
    sg_id = ref("aws_security_group", sg_key)

    assert "ingress" not in sg and "egress" not in sg
    assert ingress == [(80, 80, "tcp", "0.0.0.0/0", sg_id), (443, 443, "tcp", "0.0.0.0/0", sg_id)]
    assert not [r for r in doc.resources("aws_vpc_security_group_ingress_rule").values() if "cidr_ipv6" in r]  # fmt: skip


def test_security_group_egress_is_the_app_ports_to_the_vpc_only(built):
    egress = sorted(
        (r["from_port"], r["to_port"], r["ip_protocol"], r["cidr_ipv4"])
        for r in built["default"][1].resources("aws_vpc_security_group_egress_rule").values()
    )
    assert egress == [(8000, 8000, "tcp", "10.0.0.0/16"), (8001, 8001, "tcp", "10.0.0.0/16")]


def test_alb_is_internet_facing_in_the_given_subnets_with_its_group(built):
    _, doc = built["default"]
    lb = one(doc.resources("aws_lb"))
    (sg_key,) = doc.resources("aws_security_group")

    assert lb["internal"] is False and lb["load_balancer_type"] == "application"
    assert lb["subnets"] == ["subnet-a", "subnet-b"]
    assert lb["security_groups"] == [ref("aws_security_group", sg_key)]


def test_alb_drops_invalid_headers_and_mitigates_desync(built):
    default, variant = one(built["default"][1].resources("aws_lb")), one(built["no-wait"][1].resources("aws_lb"))  # fmt: skip
    assert default["drop_invalid_header_fields"] is True
    assert default["desync_mitigation_mode"] == "defensive"
    assert variant["desync_mitigation_mode"] == "strictest"


def test_deletion_protection_and_idle_timeout_come_from_props(built):
    default, variant = one(built["default"][1].resources("aws_lb")), one(built["no-wait"][1].resources("aws_lb"))  # fmt: skip
    assert (default["enable_deletion_protection"], default["idle_timeout"]) == (True, 60)
    assert (variant["enable_deletion_protection"], variant["idle_timeout"]) == (False, 120)


def test_access_logs_go_to_an_sse_s3_bucket_the_alb_waits_for(built):
    _, doc = built["default"]
    lb = one(doc.resources("aws_lb"))
    (bucket_key,) = doc.resources("aws_s3_bucket")
    (policy_key,) = doc.resources("aws_s3_bucket_policy")
    (rule,) = one(doc.resources("aws_s3_bucket_server_side_encryption_configuration"))["rule"]

    assert lb["access_logs"] == {"bucket": ref("aws_s3_bucket", bucket_key), "prefix": "alb", "enabled": True}  # fmt: skip
    assert rule["apply_server_side_encryption_by_default"] == {"sse_algorithm": "AES256"}
    assert f"aws_s3_bucket_policy.{policy_key}" in lb["depends_on"]
    assert one(doc.resources("aws_s3_bucket"))["bucket"] == "app-prod-alb-logs"


def test_log_bucket_policy_admits_the_regions_elb_account_under_the_prefix(built):
    _, doc = built["default"]
    statements = {s["Sid"]: s for s in policy(one(doc.resources("aws_s3_bucket_policy")))["Statement"]}  # fmt: skip
    delivery = statements["ElbAccessLogDelivery"]

    assert delivery["Principal"] == {"AWS": "arn:aws:iam::156460612806:root"}
    assert delivery["Action"] == "s3:PutObject"
    assert delivery["Resource"] == "arn:aws:s3:::app-prod-alb-logs/alb/AWSLogs/111122223333/*"
    assert {"DenyInsecureTransport", "DenyTlsBelow12"} <= set(statements)


def test_log_delivery_uses_the_service_principal_in_newer_regions():
    statement = alb_log_delivery_statement(
        AwsTarget(account_id="111122223333", region="eu-south-2"), "logs", "alb"
    ).render()
    assert statement["Principal"] == {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}


def test_access_logs_expire_after_the_retention(built):
    rules = {r["id"]: r for r in one(built["default"][1].resources("aws_s3_bucket_lifecycle_configuration"))["rule"]}  # fmt: skip
    assert rules["expire-current-objects"]["expiration"] == [{"days": 90}]


def test_certificate_is_dns_validated_for_every_name_and_replaced_before_destroyed(built):
    cert = one(built["default"][1].resources("aws_acm_certificate"))
    assert cert["validation_method"] == "DNS"
    assert cert["domain_name"] == "api.example.com"
    assert cert["subject_alternative_names"] == ["*.api.example.com", "auth.example.com"]
    assert cert["lifecycle"] == {"create_before_destroy": True}


def test_one_validation_record_per_static_name_the_wildcard_sharing_its_base(built):
    _, doc = built["default"]
    (cert_key,) = doc.resources("aws_acm_certificate")
    records = sorted(doc.resources("aws_route53_record").values(), key=lambda r: r["name"])
    options = f"{{ for o in aws_acm_certificate.{cert_key}.domain_validation_options : o.domain_name => o }}"  # fmt: skip

    assert [r["name"] for r in records] == [
        f'${{{options}["api.example.com"].resource_record_name}}',
        f'${{{options}["auth.example.com"].resource_record_name}}',
    ]
    assert all(r["type"] == "CNAME" and r["zone_id"] == "Z0123456789ABCDEFGHIJ" for r in records)
    assert records[0]["records"] == [f'${{{options}["api.example.com"].resource_record_value}}']
    assert not [r for r in records if "for_each" in r]


def test_validation_waits_for_the_records_and_the_listener_for_the_validation(built):
    _, doc = built["default"]
    (cert_key,) = doc.resources("aws_acm_certificate")
    (validation_key,) = doc.resources("aws_acm_certificate_validation")
    validation = one(doc.resources("aws_acm_certificate_validation"))

    assert validation["certificate_arn"] == ref("aws_acm_certificate", cert_key, "arn")
    assert sorted(validation["validation_record_fqdns"]) == sorted(
        ref("aws_route53_record", key, "fqdn") for key in doc.resources("aws_route53_record")
    )
    assert _listener(doc, 443)["certificate_arn"] == ref("aws_acm_certificate_validation", validation_key, "certificate_arn")  # fmt: skip


def test_without_a_zone_no_records_and_the_listener_still_waits_for_issuance(built):
    _, doc = built["no-zone"]
    (validation_key,) = doc.resources("aws_acm_certificate_validation")

    assert doc.resources("aws_route53_record") == {}
    assert "validation_record_fqdns" not in one(doc.resources("aws_acm_certificate_validation"))
    assert _listener(doc, 443)["certificate_arn"] == ref("aws_acm_certificate_validation", validation_key, "certificate_arn")  # fmt: skip


def test_without_waiting_the_listener_takes_the_certificate_arn(built):
    _, doc = built["no-wait"]
    (cert_key,) = doc.resources("aws_acm_certificate")

    assert doc.resources("aws_acm_certificate_validation") == {}
    assert _listener(doc, 443)["certificate_arn"] == ref("aws_acm_certificate", cert_key, "arn")


def test_each_route_gets_an_ip_target_group_with_a_health_check(built):
    groups = {g["name"]: g for g in built["default"][1].resources("aws_lb_target_group").values()}

    assert sorted(groups) == ["app-prod-app", "app-prod-auth"]
    auth = groups["app-prod-auth"]
    assert (auth["target_type"], auth["protocol"], auth["port"], auth["vpc_id"]) == ("ip", "HTTP", 8001, "vpc-0123456789abcdef0")  # fmt: skip
    assert auth["health_check"]["path"] == "/health"
    assert auth["health_check"]["matcher"] == "200"
    assert auth["health_check"]["port"] == "traffic-port"
    assert auth["deregistration_delay"] == "30"
    variant = one(built["no-wait"][1].resources("aws_lb_target_group"))
    assert variant["deregistration_delay"] == "5"


def test_listener_rules_forward_each_route_to_its_group_by_priority(built):
    _, doc = built["default"]
    (https_key,) = [k for k, b in doc.resources("aws_lb_listener").items() if b["port"] == 443]
    groups = {g["name"]: k for k, g in doc.resources("aws_lb_target_group").items()}
    rules = {r["priority"]: r for r in doc.resources("aws_lb_listener_rule").values()}

    assert sorted(rules) == [10, 20]
    assert rules[10]["listener_arn"] == ref("aws_lb_listener", https_key, "arn")
    assert rules[10]["condition"] == [{"path_pattern": {"values": ["/v1/token*", "/v1/users*"]}}]
    assert rules[10]["action"] == [{"type": "forward", "target_group_arn": ref("aws_lb_target_group", groups["app-prod-auth"], "arn")}]  # fmt: skip
    (host_rule,) = built["no-wait"][1].resources("aws_lb_listener_rule").values()
    assert host_rule["condition"] == [{"host_header": {"values": ["app.example.com"]}}]


ATTRIBUTES = ("arn", "arn_suffix", "dns_name", "zone_id", "security_group_id", "https_listener_arn", "certificate_arn")  # fmt: skip


def _with_outputs(stack):
    from cdktf import TerraformOutput

    from modules.load_balancer import LoadBalancer

    lb = LoadBalancer(stack, "edge", _props())
    for name in ATTRIBUTES:
        TerraformOutput(stack, name, value=getattr(lb, name))
    for route, arn in lb.target_group_arns.items():
        TerraformOutput(stack, f"tg-{route}", value=arn)
    for route, suffix in lb.target_group_arn_suffixes.items():
        TerraformOutput(stack, f"tg-suffix-{route}", value=suffix)
    return lb


def test_attributes_resolve_to_the_resources_they_name(built):
    construct, doc = built["default"]
    outputs = {k: v["value"] for k, v in doc.json["output"].items()}
    (lb_key,) = doc.resources("aws_lb")
    (sg_key,) = doc.resources("aws_security_group")
    (https_key,) = [k for k, b in doc.resources("aws_lb_listener").items() if b["port"] == 443]
    (validation_key,) = doc.resources("aws_acm_certificate_validation")
    groups = {g["name"].removeprefix("app-prod-"): k for k, g in doc.resources("aws_lb_target_group").items()}  # fmt: skip

    assert outputs["arn"] == ref("aws_lb", lb_key, "arn")
    assert outputs["arn_suffix"] == ref("aws_lb", lb_key, "arn_suffix")
    assert outputs["dns_name"] == ref("aws_lb", lb_key, "dns_name")
    assert outputs["zone_id"] == ref("aws_lb", lb_key, "zone_id")
    assert outputs["security_group_id"] == ref("aws_security_group", sg_key)
    assert outputs["https_listener_arn"] == ref("aws_lb_listener", https_key, "arn")
    assert outputs["certificate_arn"] == ref("aws_acm_certificate_validation", validation_key, "certificate_arn")  # fmt: skip
    for route, key in groups.items():
        assert outputs[f"tg-{route}"] == ref("aws_lb_target_group", key, "arn")
        assert outputs[f"tg-suffix-{route}"] == ref("aws_lb_target_group", key, "arn_suffix")
    assert construct.log_bucket_name == "app-prod-alb-logs"


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: _props(name="App_Prod"), "LoadBalancerProps.name"),
        (lambda: _props(name="a-very-long-load-balancer-name"), "LoadBalancerProps.name"),
        (lambda: _props(vpc_cidr="10.0.0.0/33"), "LoadBalancerProps.vpc_cidr"),
        (lambda: _props(public_subnet_ids=("subnet-a",)), "LoadBalancerProps.public_subnet_ids"),
        (
            lambda: _props(public_subnet_ids=("subnet-a", "subnet-a")),
            "LoadBalancerProps.public_subnet_ids",
        ),
        (lambda: _props(domain_name="API.example.com"), "LoadBalancerProps.domain_name"),
        (lambda: _props(domain_name="localhost"), "LoadBalancerProps.domain_name"),
        (lambda: _props(domain_name="api..example.com"), "LoadBalancerProps.domain_name"),
        (
            lambda: _props(subject_alternative_names=("api.example.com",)),
            "LoadBalancerProps.subject_alternative_names",
        ),
        (
            lambda: _props(subject_alternative_names=tuple(f"n{i}.example.com" for i in range(10))),
            "LoadBalancerProps.subject_alternative_names",
        ),
        (lambda: _props(zone_id="example.com"), "LoadBalancerProps.zone_id"),
        (lambda: _props(ssl_policy="ELBSecurityPolicy-2016-08"), "LoadBalancerProps.ssl_policy"),
        (
            lambda: _props(desync_mitigation_mode="monitor"),
            "LoadBalancerProps.desync_mitigation_mode",
        ),
        (lambda: _props(idle_timeout_seconds=0), "LoadBalancerProps.idle_timeout_seconds"),
        (
            lambda: _props(deregistration_delay_seconds=3601),
            "LoadBalancerProps.deregistration_delay_seconds",
        ),
        (lambda: _props(log_prefix="alb/AWSLogs"), "LoadBalancerProps.log_prefix"),
        (lambda: _props(log_prefix="alb/"), "LoadBalancerProps.log_prefix"),
        (lambda: _props(log_retention_days=0), "LoadBalancerProps.log_retention_days"),
        (
            lambda: _props(routes=(*ROUTES, replace(ROUTES[0], name="other"))),
            "LoadBalancerProps.routes",
        ),
        (
            lambda: _props(routes=(*ROUTES, replace(ROUTES[0], priority=30))),
            "LoadBalancerProps.routes",
        ),
        (lambda: replace(ROUTES[0], priority=0), "Route.priority"),
        (lambda: replace(ROUTES[0], priority=50001), "Route.priority"),
        (lambda: replace(ROUTES[0], target_port=0), "Route.target_port"),
        (lambda: replace(ROUTES[0], target_port=65536), "Route.target_port"),
        (lambda: replace(ROUTES[0], path_patterns=()), "Route.path_patterns"),
        (lambda: replace(ROUTES[0], path_patterns=("v1/token",)), "Route.path_patterns"),
        (
            lambda: replace(ROUTES[0], path_patterns=("/a", "/b", "/c", "/d", "/e", "/f")),
            "Route.path_patterns",
        ),
        (lambda: replace(ROUTES[0], host_headers=("not a host",)), "Route.host_headers"),
        (lambda: replace(ROUTES[0], health_check_path="health"), "Route.health_check_path"),
        (lambda: replace(ROUTES[0], name="Auth"), "Route.name"),
    ],
)
def test_bad_props_fail_with_the_field_named(build, field):
    with pytest.raises(PropsError, match=f"^{field}: "):
        build()
