"""A regional AWS WAF web ACL in front of the load balancer: AWS managed rule groups (common,
known bad inputs, SQL injection, IP reputation), a rate limit per client IP and a tighter one on
the login path, an optional IP allow list (for the whole ACL or for admin paths), CloudWatch
metrics on every rule, and request logs to a KMS-encrypted log group with credentials
redacted. Knows nothing about environments or config files."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.cloudwatch_log_resource_policy import CloudwatchLogResourcePolicy
from cdktf_cdktf_provider_aws.wafv2_ip_set import Wafv2IpSet
from cdktf_cdktf_provider_aws.wafv2_web_acl import (
    Wafv2WebAcl,
    Wafv2WebAclDefaultAction,
    Wafv2WebAclDefaultActionAllow,
    Wafv2WebAclDefaultActionBlock,
    Wafv2WebAclRule,
    Wafv2WebAclRuleAction,
    Wafv2WebAclRuleActionAllow,
    Wafv2WebAclRuleActionBlock,
    Wafv2WebAclRuleOverrideAction,
    Wafv2WebAclRuleOverrideActionNone,
    Wafv2WebAclRuleVisibilityConfig,
    Wafv2WebAclVisibilityConfig,
)
from cdktf_cdktf_provider_aws.wafv2_web_acl_association import Wafv2WebAclAssociation
from cdktf_cdktf_provider_aws.wafv2_web_acl_logging_configuration import (
    Wafv2WebAclLoggingConfiguration,
    Wafv2WebAclLoggingConfigurationRedactedFields,
    Wafv2WebAclLoggingConfigurationRedactedFieldsSingleHeader,
)
from constructs import Construct

from modules.aws_target import AwsTarget
from modules.lambda_function import LOG_RETENTION_DAYS
from modules.policy import Statement, policy_document
from modules.props import check_arn, require
from modules.waf_limits import EVALUATION_WINDOWS, RATE_LIMIT_RANGE

# AWS managed rule groups and their capacity (WCU), as AWS documents them.
COMMON = "AWSManagedRulesCommonRuleSet"
KNOWN_BAD_INPUTS = "AWSManagedRulesKnownBadInputsRuleSet"
SQLI = "AWSManagedRulesSQLiRuleSet"
IP_REPUTATION = "AWSManagedRulesAmazonIpReputationList"
MANAGED_GROUP_WCU = {COMMON: 700, KNOWN_BAD_INPUTS: 200, SQLI: 200, IP_REPUTATION: 25}
# The rules of the common rule set, to catch a mistyped override at synth time.
COMMON_RULES = frozenset(
    {"NoUserAgent_HEADER", "UserAgent_BadBots_HEADER", "SizeRestrictions_QUERYSTRING",
     "SizeRestrictions_Cookie_HEADER", "SizeRestrictions_BODY", "SizeRestrictions_URIPATH",
     "EC2MetaDataSSRF_BODY", "EC2MetaDataSSRF_COOKIE", "EC2MetaDataSSRF_URIPATH",
     "EC2MetaDataSSRF_QUERYARGUMENTS", "GenericLFI_QUERYARGUMENTS", "GenericLFI_URIPATH",
     "GenericLFI_BODY", "RestrictedExtensions_URIPATH", "RestrictedExtensions_QUERYARGUMENTS",
     "GenericRFI_QUERYARGUMENTS", "GenericRFI_BODY", "GenericRFI_URIPATH",
     "CrossSiteScripting_COOKIE", "CrossSiteScripting_QUERYARGUMENTS",
     "CrossSiteScripting_BODY", "CrossSiteScripting_URIPATH"}
)  # fmt: skip
# Statement costs (WAF's documented base costs): a rate-based statement 2, a starts-with
# string match 2 plus 10 per text transformation, an IP set reference 1.
RATE_WCU = 2
PATH_MATCH_WCU = 2 + 10
IP_SET_WCU = 1
# Up to 1,500 WCU is in the base price of a web ACL (5,000 is the hard limit).
MAX_WCU = 1500
LOG_GROUP_PREFIX = "aws-waf-logs-"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,114}$")
_PATH_PREFIX = re.compile(r"^/[A-Za-z0-9/_.~-]{0,199}$")
_HEADER = re.compile(r"^[a-z0-9-]{1,64}$")


def waf_log_group_name(name: str) -> str:
    """The log group of a web ACL named `name` (WAF accepts only `aws-waf-logs-...`)."""
    return f"{LOG_GROUP_PREFIX}{name}"


@dataclass(frozen=True)
class IpAllowList:
    """Only these client addresses may use the ACL's resource, or the given path prefixes."""

    cidrs: tuple[str, ...]
    """IPv4 CIDR blocks, e.g. `203.0.113.0/24` (the ALB listens on IPv4 only)."""
    path_prefixes: tuple[str, ...] = ()
    """Admin path prefixes, e.g. `/v1/admin`: requests to them from other addresses are
    blocked. () means every path: the ACL's default action becomes block and requests from the
    set are allowed after every other rule has inspected them. @default ()"""

    def __post_init__(self) -> None:
        def cidr_ok(cidr: str) -> bool:
            try:
                network = ipaddress.ip_network(cidr)
            except ValueError:
                return False
            return network.version == 4 and network.prefixlen >= 1

        require(
            bool(self.cidrs)
            and all(cidr_ok(c) for c in self.cidrs)
            and len(set(self.cidrs)) == len(self.cidrs),
            "IpAllowList.cidrs",
            self.cidrs,
            "must be distinct IPv4 CIDR blocks (a.b.c.d/1..32, host bits zero), at least one",
        )
        require(
            all(_PATH_PREFIX.match(p) for p in self.path_prefixes)
            and len(set(self.path_prefixes)) == len(self.path_prefixes),
            "IpAllowList.path_prefixes",
            self.path_prefixes,
            "must be distinct paths starting with /",
        )


@dataclass(frozen=True)
class WebAclProps:
    """Props of `WebAcl`."""

    name: str
    """Name of the ACL and prefix of its rules' metric names, e.g. `checkins-prod`."""
    target: AwsTarget
    resource_arn: str
    """The load balancer to protect (its ARN; a reference to it is fine)."""
    log_kms_key_arn: str
    """Customer key of the log group; its policy must admit CloudWatch Logs for
    `waf_log_group_name(name)`."""
    log_retention_days: int = 90
    """@default 90"""
    rate_limit_per_ip: int = 1000
    """Requests per client IP per evaluation window before it is blocked. @default 1000"""
    login_rate_limit_per_ip: int = 100
    """The same, for requests under `login_path_prefix` (password guessing). @default 100"""
    login_path_prefix: str = "/v1/token"
    """Where the auth service takes credentials (token issue and refresh). @default "/v1/token" """
    rate_window_seconds: int = 300
    """Evaluation window of both rate rules: 60, 120, 300 or 600. @default 300"""
    common_rules_to_count: tuple[str, ...] = ("SizeRestrictions_BODY",)
    """Rules of the common rule set that only count instead of blocking. SizeRestrictions_BODY
    blocks every body over 8 KB, and the API takes larger ones (batched check-ins); the
    services enforce their own body limit. @default ("SizeRestrictions_BODY",)"""
    ip_allow_list: IpAllowList | None = None
    """@default None (no address restriction)"""
    redacted_headers: tuple[str, ...] = ("authorization", "cookie")
    """Headers replaced by `REDACTED` in the logs: bearer tokens and session cookies.
    @default ("authorization", "cookie")"""

    def __post_init__(self) -> None:
        require(
            _NAME.match(self.name) is not None,
            "WebAclProps.name",
            self.name,
            "is not 1-115 of A-Z a-z 0-9 _ - (the log group adds aws-waf-logs-)",
        )
        check_arn(
            "WebAclProps.resource_arn",
            self.resource_arn,
            service="elasticloadbalancing",
            resource="loadbalancer/app/",
        )
        check_arn("WebAclProps.log_kms_key_arn", self.log_kms_key_arn, service="kms")
        require(
            self.log_retention_days in LOG_RETENTION_DAYS,
            "WebAclProps.log_retention_days",
            self.log_retention_days,
            "is not a CloudWatch Logs retention (1, 3, 5, 7, 14, 30, 60, 90, ...)",
        )
        low, high = RATE_LIMIT_RANGE
        for field in ("rate_limit_per_ip", "login_rate_limit_per_ip"):
            value = getattr(self, field)
            require(
                low <= value <= high,
                f"WebAclProps.{field}",
                value,
                f"is outside WAF's {low}..{high:,}",
            )
        require(
            self.login_rate_limit_per_ip <= self.rate_limit_per_ip,
            "WebAclProps.login_rate_limit_per_ip",
            self.login_rate_limit_per_ip,
            "must not exceed rate_limit_per_ip (the login rule is the tighter one)",
        )
        require(
            _PATH_PREFIX.match(self.login_path_prefix) is not None,
            "WebAclProps.login_path_prefix",
            self.login_path_prefix,
            "must be a path starting with /",
        )
        require(
            self.rate_window_seconds in EVALUATION_WINDOWS,
            "WebAclProps.rate_window_seconds",
            self.rate_window_seconds,
            f"must be one of {', '.join(map(str, EVALUATION_WINDOWS))}",
        )
        unknown = sorted(set(self.common_rules_to_count) - COMMON_RULES)
        require(
            not unknown,
            "WebAclProps.common_rules_to_count",
            unknown,
            f"are not rules of {COMMON}",
        )
        require(
            all(_HEADER.match(h) for h in self.redacted_headers)
            and len(set(self.redacted_headers)) == len(self.redacted_headers),
            "WebAclProps.redacted_headers",
            self.redacted_headers,
            "must be distinct lower-case header names",
        )
        require(
            self.estimated_wcu <= MAX_WCU,
            "WebAclProps.ip_allow_list",
            self.estimated_wcu,
            f"the estimated capacity exceeds {MAX_WCU} WCU (fewer admin path prefixes)",
        )

    @property
    def estimated_wcu(self) -> int:
        """The ACL's capacity: the managed groups' documented capacities plus the custom rules'
        statement costs (WAF computes the exact figure at apply time)."""
        total = sum(MANAGED_GROUP_WCU.values()) + RATE_WCU + RATE_WCU + PATH_MATCH_WCU
        if self.ip_allow_list:
            total += IP_SET_WCU + PATH_MATCH_WCU * len(self.ip_allow_list.path_prefixes)
        return total


def _visibility(metric_name: str) -> Wafv2WebAclRuleVisibilityConfig:
    return Wafv2WebAclRuleVisibilityConfig(
        cloudwatch_metrics_enabled=True, metric_name=metric_name, sampled_requests_enabled=True
    )


def _path_starts_with(prefix: str) -> dict[str, Any]:
    # URL-decoded first: the services decode the path, so `/v1/%74oken` must match too.
    return {
        "byte_match_statement": {
            "field_to_match": {"uri_path": {}},
            "positional_constraint": "STARTS_WITH",
            "search_string": prefix,
            "text_transformation": [{"priority": 0, "type": "URL_DECODE"}],
        }
    }


def _managed_group(name: str, count_rules: tuple[str, ...] = ()) -> dict[str, Any]:
    statement: dict[str, Any] = {"name": name, "vendor_name": "AWS"}
    if count_rules:
        statement["rule_action_override"] = [
            {"name": rule, "action_to_use": {"count": {}}} for rule in sorted(count_rules)
        ]
    return {"managed_rule_group_statement": statement}


class WebAcl(Construct):
    """Attributes: `web_acl_arn`, `web_acl_name`, `metric_names` (rule name -> CloudWatch
    metric name, `acl` for the ACL's totals), `log_group_name`, `log_group_arn`,
    `estimated_wcu`."""

    def __init__(self, scope: Construct, id_: str, props: WebAclProps) -> None:
        super().__init__(scope, id_)
        name = props.name
        target = props.target
        block = Wafv2WebAclRuleAction(block=Wafv2WebAclRuleActionBlock())
        no_override = Wafv2WebAclRuleOverrideAction(none=Wafv2WebAclRuleOverrideActionNone())
        allow = props.ip_allow_list
        allow_everywhere = allow is not None and not allow.path_prefixes

        ip_set_arn = ""
        if allow:
            ip_set = Wafv2IpSet(
                self,
                "allow-list",
                name=f"{name}-allow-list",
                description=f"Client addresses allowed by the web ACL {name}",
                scope="REGIONAL",
                ip_address_version="IPV4",
                addresses=sorted(allow.cidrs),
                tags={"Name": f"{name}-allow-list"},
            )
            ip_set_arn = ip_set.arn

        # (rule name, priority, statement, action or None for a managed group). Priorities
        # have gaps so a rule can be added between two without renumbering the others.
        rules: list[tuple[str, int, dict[str, Any], Wafv2WebAclRuleAction | None]] = []
        if allow and allow.path_prefixes:
            paths = [_path_starts_with(p) for p in sorted(allow.path_prefixes)]
            rules.append(
                (
                    "admin-paths-allow-list",
                    0,
                    {
                        "and_statement": {
                            "statement": [
                                paths[0]
                                if len(paths) == 1
                                else {"or_statement": {"statement": paths}},
                                {
                                    "not_statement": {
                                        "statement": [
                                            {"ip_set_reference_statement": {"arn": ip_set_arn}}
                                        ]
                                    }
                                },
                            ]
                        }
                    },
                    block,
                )
            )
        rules += [
            ("ip-reputation", 10, _managed_group(IP_REPUTATION), None),
            (
                "rate-per-ip",
                20,
                {
                    "rate_based_statement": {
                        "limit": props.rate_limit_per_ip,
                        "aggregate_key_type": "IP",
                        "evaluation_window_sec": props.rate_window_seconds,
                    }
                },
                block,
            ),
            (
                "rate-login",
                30,
                {
                    "rate_based_statement": {
                        "limit": props.login_rate_limit_per_ip,
                        "aggregate_key_type": "IP",
                        "evaluation_window_sec": props.rate_window_seconds,
                        "scope_down_statement": _path_starts_with(props.login_path_prefix),
                    }
                },
                block,
            ),
            ("known-bad-inputs", 40, _managed_group(KNOWN_BAD_INPUTS), None),
            ("common", 50, _managed_group(COMMON, props.common_rules_to_count), None),
            ("sqli", 60, _managed_group(SQLI), None),
        ]
        if allow_everywhere:
            # Last: an allow ends evaluation, so the set's requests are inspected first too.
            rules.append(
                (
                    "allow-list",
                    100,
                    {"ip_set_reference_statement": {"arn": ip_set_arn}},
                    Wafv2WebAclRuleAction(allow=Wafv2WebAclRuleActionAllow()),
                )
            )

        self.metric_names: dict[str, str] = {"acl": name}
        waf_rules = []
        for rule_name, priority, statement, action in rules:
            metric = f"{name}-{rule_name}"
            self.metric_names[rule_name] = metric
            waf_rules.append(
                Wafv2WebAclRule(
                    name=rule_name,
                    priority=priority,
                    statement=statement,
                    action=action,
                    override_action=no_override if action is None else None,
                    visibility_config=_visibility(metric),
                )
            )
        self.estimated_wcu: int = props.estimated_wcu
        acl = Wafv2WebAcl(
            self,
            "web-acl",
            name=name,
            description=f"Web ACL of {name}: managed rules, rate limits"
            + (", IP allow list" if allow else ""),
            scope="REGIONAL",
            default_action=Wafv2WebAclDefaultAction(block=Wafv2WebAclDefaultActionBlock())
            if allow_everywhere
            else Wafv2WebAclDefaultAction(allow=Wafv2WebAclDefaultActionAllow()),
            rule=waf_rules,
            visibility_config=Wafv2WebAclVisibilityConfig(
                cloudwatch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=True
            ),
            tags={"Name": name},
        )
        self.web_acl_arn: str = acl.arn
        self.web_acl_name: str = name

        Wafv2WebAclAssociation(
            self, "association", resource_arn=props.resource_arn, web_acl_arn=acl.arn
        )

        self.log_group_name: str = waf_log_group_name(name)
        log_group = CloudwatchLogGroup(
            self,
            "log-group",
            name=self.log_group_name,
            kms_key_id=props.log_kms_key_arn,
            retention_in_days=props.log_retention_days,
            tags={"Name": self.log_group_name},
        )
        self.log_group_arn: str = target.arn("logs", f"log-group:{self.log_group_name}")
        # WAF would otherwise add its statement to an account-wide `AWSWAF-LOGS` policy itself
        # (10 resource policies per region at most): one policy per log group, under
        # Terraform, scoped to this group and to deliveries of this account.
        log_policy = CloudwatchLogResourcePolicy(
            self,
            "log-resource-policy",
            policy_name=self.log_group_name,
            policy_document=policy_document(
                Statement(
                    sid="WafLogDelivery",
                    principals={"Service": "delivery.logs.amazonaws.com"},
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[f"{self.log_group_arn}:log-stream:*"],
                    conditions={
                        "StringEquals": {"aws:SourceAccount": target.account_id},
                        "ArnLike": {"aws:SourceArn": target.arn("logs", "*")},
                    },
                )
            ),
        )
        Wafv2WebAclLoggingConfiguration(
            self,
            "logging",
            resource_arn=acl.arn,
            # The log group's ARN without the `:*` suffix, as WAF requires.
            log_destination_configs=[log_group.arn],
            redacted_fields=[
                Wafv2WebAclLoggingConfigurationRedactedFields(
                    single_header=Wafv2WebAclLoggingConfigurationRedactedFieldsSingleHeader(
                        name=header
                    )
                )
                for header in sorted(props.redacted_headers)
            ],
            depends_on=[log_policy],
        )
