"""The platform's public entry point: an internet-facing Application Load Balancer with its own
security group, access logs in an SSE-S3 bucket, an HTTPS listener with an explicit TLS policy
and a DNS-validated ACM certificate, an HTTP listener that only redirects, and one `ip` target
group plus listener rule per route. Knows nothing about environments or config files."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass

from cdktf import TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.acm_certificate import AcmCertificate
from cdktf_cdktf_provider_aws.acm_certificate_validation import AcmCertificateValidation
from cdktf_cdktf_provider_aws.lb import Lb, LbAccessLogs
from cdktf_cdktf_provider_aws.lb_listener import (
    LbListener,
    LbListenerDefaultAction,
    LbListenerDefaultActionFixedResponse,
    LbListenerDefaultActionRedirect,
)
from cdktf_cdktf_provider_aws.lb_listener_rule import (
    LbListenerRule,
    LbListenerRuleAction,
    LbListenerRuleCondition,
    LbListenerRuleConditionHostHeader,
    LbListenerRuleConditionPathPattern,
)
from cdktf_cdktf_provider_aws.lb_target_group import LbTargetGroup, LbTargetGroupHealthCheck
from cdktf_cdktf_provider_aws.route53_record import Route53Record
from cdktf_cdktf_provider_aws.security_group import SecurityGroup
from cdktf_cdktf_provider_aws.vpc_security_group_egress_rule import VpcSecurityGroupEgressRule
from cdktf_cdktf_provider_aws.vpc_security_group_ingress_rule import VpcSecurityGroupIngressRule
from constructs import Construct

from modules.aws_target import AwsTarget
from modules.policy import Statement
from modules.props import is_token, require
from modules.secure_bucket import AccessLogTarget, SecureBucket, SecureBucketProps

# TLS 1.2+ policies only (TLS 1.3 with 1.2 fallback, or 1.3 only), FIPS and post-quantum
# variants included. Omitting `ssl_policy` gives ELBSecurityPolicy-2016-08, which still
# accepts TLS 1.0 and 1.1: the listener always names one of these.
TLS_POLICIES = (
    "ELBSecurityPolicy-TLS13-1-2-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09",
    "ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-3-2021-06",
    "ELBSecurityPolicy-TLS13-1-3-PQ-2025-09",
)
# The console's default since 2025-09: TLS 1.3 and 1.2 with restricted (forward-secret AEAD)
# ciphers and post-quantum hybrid key exchange.
DEFAULT_TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"
# "monitor" lets requests that risk HTTP desync through: not offered.
DESYNC_MODES = ("defensive", "strictest")

# Regions opened before August 2022 deliver access logs as this ELB account (the documented
# table; regions opened later use the `logdelivery.elasticloadbalancing.amazonaws.com`
# service principal). A literal table, not the `aws_elb_service_account` data source: the
# bucket policy stays a literal in the synthesized JSON, reviewable, scannable and testable,
# with no plan-time read.
ELB_LOG_DELIVERY_ACCOUNTS: Mapping[str, str] = {
    "af-south-1": "098369216593",
    "ap-east-1": "754344448648",
    "ap-northeast-1": "582318560864",
    "ap-northeast-2": "600734575887",
    "ap-northeast-3": "383597477331",
    "ap-south-1": "718504428378",
    "ap-southeast-1": "114774131450",
    "ap-southeast-2": "783225319266",
    "ap-southeast-3": "589379963580",
    "ca-central-1": "985666609251",
    "cn-north-1": "638102146993",
    "cn-northwest-1": "037604701340",
    "eu-central-1": "054676820928",
    "eu-north-1": "897822967062",
    "eu-south-1": "635631232127",
    "eu-west-1": "156460612806",
    "eu-west-2": "652711504416",
    "eu-west-3": "009996457667",
    "me-south-1": "076674570225",
    "sa-east-1": "507241528517",
    "us-east-1": "127311923021",
    "us-east-2": "033677994240",
    "us-gov-east-1": "190560391635",
    "us-gov-west-1": "048591011584",
    "us-west-1": "027434742980",
    "us-west-2": "797873946194",
}
ELB_LOG_DELIVERY_SERVICE = "logdelivery.elasticloadbalancing.amazonaws.com"

# The 443 default answer when no route matches: the services' own error shape.
NOT_FOUND_BODY = '{"detail":"Not Found"}'
# ACM's default quota of names per certificate (adjustable on request).
MAX_CERTIFICATE_NAMES = 10
# ALB: up to five condition values per rule, all conditions together.
MAX_CONDITION_VALUES = 5

_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_LOG_PREFIX = re.compile(r"^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*$")
_PATH_PATTERN = re.compile(r"^/[A-Za-z0-9_\-.$/~\"'@:+&*?=%]{0,127}$")
_ZONE_ID = re.compile(r"^Z[A-Z0-9]{1,31}$")


def alb_log_delivery_statement(target: AwsTarget, bucket_name: str, prefix: str) -> Statement:
    """For a log bucket's policy: Elastic Load Balancing may write access logs of this account's
    load balancers under `prefix` (ELB adds `AWSLogs/<account>/`)."""
    account = ELB_LOG_DELIVERY_ACCOUNTS.get(target.region)
    principal = (
        {"AWS": f"arn:{target.partition}:iam::{account}:root"}
        if account
        else {"Service": ELB_LOG_DELIVERY_SERVICE}
    )
    return Statement(
        sid="ElbAccessLogDelivery",
        principals=principal,
        actions=["s3:PutObject"],
        resources=[target.arn("s3", f"{bucket_name}/{prefix}/AWSLogs/{target.account_id}/*")],
    )


def _domain_ok(name: str) -> bool:
    labels = name.removeprefix("*.").split(".")
    return (
        len(name) <= 253
        and len(labels) >= 2
        and all(_LABEL.match(label) for label in labels)
        and not labels[-1].isdigit()
    )


@dataclass(frozen=True)
class Route:
    """Requests matching all given conditions go to one target group of `ip` targets (Fargate
    tasks) on `target_port`."""

    name: str
    """Short name, e.g. `auth`: suffix of the target group's name and key of the attributes."""
    priority: int
    """Listener rule priority, 1..50000; lower is evaluated first."""
    target_port: int
    """Port the tasks listen on (plain HTTP inside the VPC)."""
    path_patterns: tuple[str, ...] = ()
    """ALB path patterns (case-sensitive, `*` and `?` wildcards), e.g. `/v1/token*`. @default ()"""
    host_headers: tuple[str, ...] = ()
    """Host names, e.g. `auth.example.com`. @default ()"""
    health_check_path: str = "/health"
    """The services' liveness endpoint. @default "/health" """

    def __post_init__(self) -> None:
        require(
            _NAME.match(self.name) is not None and len(self.name) <= 16,
            "Route.name",
            self.name,
            "is not 1-16 of a-z, 0-9, - (not starting or ending with -)",
        )
        require(1 <= self.priority <= 50000, "Route.priority", self.priority, "is outside 1..50000")
        require(
            1 <= self.target_port <= 65535,
            "Route.target_port",
            self.target_port,
            "is outside 1..65535",
        )
        require(
            bool(self.path_patterns or self.host_headers),
            "Route.path_patterns",
            self.path_patterns,
            "a route needs path patterns or host headers (or it would match everything)",
        )
        require(
            all(_PATH_PATTERN.match(p) for p in self.path_patterns)
            and len(set(self.path_patterns)) == len(self.path_patterns),
            "Route.path_patterns",
            self.path_patterns,
            "must be distinct paths starting with / (1-128 characters)",
        )
        require(
            all(_domain_ok(h) for h in self.host_headers),
            "Route.host_headers",
            self.host_headers,
            "must be domain names",
        )
        require(
            len(self.path_patterns) + len(self.host_headers) <= MAX_CONDITION_VALUES,
            "Route.path_patterns",
            self.path_patterns,
            f"an ALB rule takes at most {MAX_CONDITION_VALUES} condition values in all",
        )
        require(
            self.health_check_path.startswith("/") and len(self.health_check_path) <= 1024,
            "Route.health_check_path",
            self.health_check_path,
            "must be a path starting with / (at most 1024 characters)",
        )


@dataclass(frozen=True)
class LoadBalancerProps:
    """Props of `LoadBalancer`."""

    name: str
    """Prefix of every name, e.g. `checkins-prod` (the ALB is `<name>`, its target groups
    `<name>-<route>`: ALB names are at most 32 characters)."""
    target: AwsTarget
    vpc_id: str
    vpc_cidr: str
    """The VPC's IPv4 CIDR: the only destination of the ALB's egress."""
    public_subnet_ids: tuple[str, ...]
    """At least two, in different Availability Zones (ALB requires two)."""
    domain_name: str
    """Name of the certificate, e.g. `api.example.com` (a leading `*.` is a wildcard)."""
    log_bucket_name: str
    """The access-log bucket this construct creates (SSE-S3: ALB cannot write SSE-KMS)."""
    routes: tuple[Route, ...] = ()
    """@default () (every request gets the 404 default answer)"""
    subject_alternative_names: tuple[str, ...] = ()
    """Further names of the certificate. @default ()"""
    zone_id: str | None = None
    """Route 53 hosted zone that holds the names: the validation records are created in it.
    None: someone creates them in the DNS that holds the names (see `wait_for_certificate`).
    @default None"""
    wait_for_certificate: bool = True
    """The HTTPS listener waits (`aws_acm_certificate_validation`, up to 75 minutes) until the
    certificate is issued. ELB refuses a certificate that is not issued yet
    (UnsupportedCertificate), so False (the listener takes the certificate ARN at once) only
    suits a certificate whose records already exist. Ignored with a `zone_id`: the validation
    always waits. @default True"""
    ssl_policy: str = DEFAULT_TLS_POLICY
    """One of `TLS_POLICIES`. @default "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09" """
    desync_mitigation_mode: str = "defensive"
    """`defensive` or `strictest` (rejects every request that is not RFC-compliant).
    @default "defensive" """
    deletion_protection: bool = True
    """@default True (opt out for throw-away environments)"""
    idle_timeout_seconds: int = 60
    """@default 60"""
    deregistration_delay_seconds: int = 30
    """How long a deregistering task keeps its in-flight requests; the services shut down
    gracefully well within it. @default 30"""
    hsts: str | None = "max-age=31536000; includeSubDomains"
    """Strict-Transport-Security header the HTTPS listener adds to responses that lack one;
    None adds none. @default "max-age=31536000; includeSubDomains" """
    log_prefix: str = "alb"
    """Key prefix of the access logs (must not contain `AWSLogs`). @default "alb" """
    log_retention_days: int = 90
    """Access logs expire after this many days. @default 90"""
    log_bucket_access_logs: AccessLogTarget | None = None
    """Server access logging of the log bucket itself. @default None (a log bucket's readers
    are few and CloudTrail records their calls)"""
    prevent_destroy: bool = True
    """Terraform refuses to destroy the log bucket. @default True"""

    def __post_init__(self) -> None:
        longest_route = max((len(r.name) for r in self.routes), default=0)
        require(
            _NAME.match(self.name) is not None
            and not self.name.startswith("internal-")
            and len(self.name) + 1 + longest_route <= 32,
            "LoadBalancerProps.name",
            self.name,
            "is not a-z, 0-9, - (not internal-...), at most 32 characters with "
            "`-<route name>` appended",
        )
        try:
            network = ipaddress.ip_network(self.vpc_cidr)
        except ValueError:
            network = None
        require(
            is_token(self.vpc_cidr) or (network is not None and network.version == 4),
            "LoadBalancerProps.vpc_cidr",
            self.vpc_cidr,
            "is not an IPv4 CIDR block",
        )
        require(
            len(self.public_subnet_ids) >= 2
            and len(set(self.public_subnet_ids)) == len(self.public_subnet_ids),
            "LoadBalancerProps.public_subnet_ids",
            self.public_subnet_ids,
            "must be at least two distinct subnets (ALB needs two Availability Zones)",
        )
        names = self.certificate_names
        require(
            _domain_ok(self.domain_name),
            "LoadBalancerProps.domain_name",
            self.domain_name,
            "is not a lower-case domain name (labels of a-z, 0-9, -; optional leading *.)",
        )
        require(
            all(_domain_ok(n) for n in self.subject_alternative_names)
            and len(set(names)) == len(names),
            "LoadBalancerProps.subject_alternative_names",
            self.subject_alternative_names,
            "must be distinct domain names, other than domain_name",
        )
        require(
            len(names) <= MAX_CERTIFICATE_NAMES,
            "LoadBalancerProps.subject_alternative_names",
            self.subject_alternative_names,
            f"ACM allows {MAX_CERTIFICATE_NAMES} names per certificate by default",
        )
        require(
            self.zone_id is None or is_token(self.zone_id) or bool(_ZONE_ID.match(self.zone_id)),
            "LoadBalancerProps.zone_id",
            self.zone_id,
            "is not a Route 53 hosted zone id (Z...)",
        )
        require(
            self.ssl_policy in TLS_POLICIES,
            "LoadBalancerProps.ssl_policy",
            self.ssl_policy,
            f"must be one of {', '.join(TLS_POLICIES)}",
        )
        require(
            self.desync_mitigation_mode in DESYNC_MODES,
            "LoadBalancerProps.desync_mitigation_mode",
            self.desync_mitigation_mode,
            f"must be one of {', '.join(DESYNC_MODES)}",
        )
        require(
            1 <= self.idle_timeout_seconds <= 4000,
            "LoadBalancerProps.idle_timeout_seconds",
            self.idle_timeout_seconds,
            "is outside 1..4000",
        )
        require(
            0 <= self.deregistration_delay_seconds <= 3600,
            "LoadBalancerProps.deregistration_delay_seconds",
            self.deregistration_delay_seconds,
            "is outside 0..3600",
        )
        require(
            bool(_LOG_PREFIX.match(self.log_prefix)) and "AWSLogs" not in self.log_prefix,
            "LoadBalancerProps.log_prefix",
            self.log_prefix,
            "must be a key prefix without leading or trailing / and without AWSLogs "
            "(ELB adds AWSLogs/<account>/ itself)",
        )
        require(
            self.log_retention_days >= 1,
            "LoadBalancerProps.log_retention_days",
            self.log_retention_days,
            "must be at least 1",
        )
        route_names = [r.name for r in self.routes]
        require(
            len(set(route_names)) == len(route_names),
            "LoadBalancerProps.routes",
            route_names,
            "route names must be distinct",
        )
        priorities = [r.priority for r in self.routes]
        require(
            len(set(priorities)) == len(priorities),
            "LoadBalancerProps.routes",
            priorities,
            "route priorities must be distinct",
        )

    @property
    def certificate_names(self) -> tuple[str, ...]:
        return (self.domain_name, *self.subject_alternative_names)

    @property
    def app_ports(self) -> tuple[int, ...]:
        """The distinct target ports, sorted: what the ALB may reach in the VPC."""
        return tuple(sorted({r.target_port for r in self.routes}))


def validation_names(names: tuple[str, ...]) -> dict[str, str]:
    """One DNS validation record per distinct name, a wildcard sharing its base name's record:
    record key (the base name) -> the certificate name whose validation option to read."""
    records: dict[str, str] = {}
    for name in names:
        records.setdefault(name.removeprefix("*."), name)
    return dict(sorted(records.items()))


class LoadBalancer(Construct):
    """Attributes: `arn`, `arn_suffix`, `dns_name`, `zone_id`, `security_group_id`,
    `https_listener_arn`, `certificate_arn` (the validated one when the listener waits),
    `target_group_arns` and `target_group_arn_suffixes` (by route name), `log_bucket_name`,
    `validation_records` (the certificate's DNS validation records)."""

    def __init__(self, scope: Construct, id_: str, props: LoadBalancerProps) -> None:
        super().__init__(scope, id_)
        self._props = props
        name = props.name

        sg = SecurityGroup(
            self,
            "security-group",
            name=f"{name}-alb",
            description=f"ALB {name}: HTTPS and HTTP (redirect) in, app ports to the VPC out",
            vpc_id=props.vpc_id,
            tags={"Name": f"{name}-alb"},
        )
        for port, why in ((443, "HTTPS"), (80, "HTTP, redirected to HTTPS")):
            VpcSecurityGroupIngressRule(
                self,
                f"ingress-{port}",
                security_group_id=sg.id,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                cidr_ipv4="0.0.0.0/0",
                description=f"{why} from the internet",
                tags={"Name": f"{name}-alb-in-{port}"},
            )
        for port in props.app_ports:
            VpcSecurityGroupEgressRule(
                self,
                f"egress-{port}",
                security_group_id=sg.id,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                cidr_ipv4=props.vpc_cidr,
                description=f"Requests and health checks to the tasks on {port}",
                tags={"Name": f"{name}-alb-out-{port}"},
            )
        self.security_group_id: str = sg.id

        logs = SecureBucket(
            self,
            "log-bucket",
            SecureBucketProps(
                bucket_name=props.log_bucket_name,
                target=props.target,
                # ALB delivers access logs only to SSE-S3 buckets: with SSE-KMS they are lost.
                kms_key_arn=None,
                noncurrent_version_days=7,
                expire_current_after_days=props.log_retention_days,
                access_logs=props.log_bucket_access_logs,
                extra_statements=(
                    alb_log_delivery_statement(
                        props.target, props.log_bucket_name, props.log_prefix
                    ),
                ),
                prevent_destroy=props.prevent_destroy,
            ),
        )
        self.log_bucket_name: str = props.log_bucket_name

        lb = Lb(
            self,
            "alb",
            name=name,
            load_balancer_type="application",
            internal=False,
            subnets=list(props.public_subnet_ids),
            security_groups=[sg.id],
            # Headers that are not valid HTTP never reach the services (request smuggling).
            drop_invalid_header_fields=True,
            desync_mitigation_mode=props.desync_mitigation_mode,
            enable_deletion_protection=props.deletion_protection,
            idle_timeout=props.idle_timeout_seconds,
            access_logs=LbAccessLogs(bucket=logs.bucket_id, prefix=props.log_prefix, enabled=True),
            tags={"Name": name},
            # ELB tests that it may write to the bucket when logging is turned on.
            depends_on=[logs.policy],
        )
        self.arn: str = lb.arn
        self.arn_suffix: str = lb.arn_suffix
        self.dns_name: str = lb.dns_name
        self.zone_id: str = lb.zone_id

        certificate_arn = self._certificate(props)
        self.certificate_arn: str = certificate_arn

        LbListener(
            self,
            "http",
            load_balancer_arn=lb.arn,
            port=80,
            protocol="HTTP",
            default_action=[
                LbListenerDefaultAction(
                    type="redirect",
                    redirect=LbListenerDefaultActionRedirect(
                        port="443", protocol="HTTPS", status_code="HTTP_301"
                    ),
                )
            ],
            tags={"Name": f"{name}-http"},
        )
        https = LbListener(
            self,
            "https",
            load_balancer_arn=lb.arn,
            port=443,
            protocol="HTTPS",
            ssl_policy=props.ssl_policy,
            certificate_arn=certificate_arn,
            default_action=[
                LbListenerDefaultAction(
                    type="fixed-response",
                    fixed_response=LbListenerDefaultActionFixedResponse(
                        content_type="application/json",
                        message_body=NOT_FOUND_BODY,
                        status_code="404",
                    ),
                )
            ],
            routing_http_response_strict_transport_security_header_value=props.hsts,
            tags={"Name": f"{name}-https"},
        )
        self.https_listener_arn: str = https.arn

        self.target_group_arns: dict[str, str] = {}
        self.target_group_arn_suffixes: dict[str, str] = {}
        for route in sorted(props.routes, key=lambda r: r.name):
            group = LbTargetGroup(
                self,
                f"target-{route.name}",
                name=f"{name}-{route.name}",
                target_type="ip",
                protocol="HTTP",
                port=route.target_port,
                vpc_id=props.vpc_id,
                deregistration_delay=str(props.deregistration_delay_seconds),
                health_check=LbTargetGroupHealthCheck(
                    enabled=True,
                    protocol="HTTP",
                    port="traffic-port",
                    path=route.health_check_path,
                    matcher="200",
                    interval=15,
                    timeout=5,
                    healthy_threshold=2,
                    unhealthy_threshold=3,
                ),
                tags={"Name": f"{name}-{route.name}"},
            )
            conditions = []
            if route.path_patterns:
                conditions.append(
                    LbListenerRuleCondition(
                        path_pattern=LbListenerRuleConditionPathPattern(
                            values=list(route.path_patterns)
                        )
                    )
                )
            if route.host_headers:
                conditions.append(
                    LbListenerRuleCondition(
                        host_header=LbListenerRuleConditionHostHeader(
                            values=list(route.host_headers)
                        )
                    )
                )
            LbListenerRule(
                self,
                f"rule-{route.name}",
                listener_arn=https.arn,
                priority=route.priority,
                condition=conditions,
                action=[LbListenerRuleAction(type="forward", target_group_arn=group.arn)],
                tags={"Name": f"{name}-{route.name}"},
            )
            self.target_group_arns[route.name] = group.arn
            self.target_group_arn_suffixes[route.name] = group.arn_suffix

    def _certificate(self, props: LoadBalancerProps) -> str:
        """The certificate, its validation records (with a zone) and the ARN the listener uses."""
        certificate = AcmCertificate(
            self,
            "certificate",
            domain_name=props.domain_name,
            subject_alternative_names=list(props.subject_alternative_names) or None,
            validation_method="DNS",
            tags={"Name": props.domain_name},
            # A changed name list replaces the certificate; the listener must move to the new
            # one before the old one can be deleted.
            lifecycle=TerraformResourceLifecycle(create_before_destroy=True),
        )
        # The CNAME records ACM checks (name, type, value per domain): what someone creates in
        # a DNS this stack does not manage.
        self.validation_records: str = f"${{{certificate.fqn}.domain_validation_options}}"
        if props.zone_id is None and not props.wait_for_certificate:
            return certificate.arn
        fqdns = None
        if props.zone_id is not None:
            # `domain_validation_options` is a set, known only after the certificate exists:
            # `for_each` over it fails at plan. The names are known now, so one record per
            # name, each reading its own option by domain name.
            by_domain = (
                f"{{ for o in {certificate.fqn}.domain_validation_options : o.domain_name => o }}"
            )
            fqdns = []
            for key, name in validation_names(props.certificate_names).items():
                option = f'{by_domain}["{name}"]'
                record = Route53Record(
                    self,
                    f"validation-{key.replace('.', '_')}",
                    zone_id=props.zone_id,
                    name=f"${{{option}.resource_record_name}}",
                    # ACM validates DNS names with CNAME records only.
                    type="CNAME",
                    records=[f"${{{option}.resource_record_value}}"],
                    ttl=300,
                )
                fqdns.append(record.fqdn)
        validation = AcmCertificateValidation(
            self,
            "certificate-validation",
            certificate_arn=certificate.arn,
            validation_record_fqdns=fqdns,
        )
        return validation.certificate_arn
