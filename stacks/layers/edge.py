"""Edge: the internet-facing load balancer (HTTPS only, its certificate, the routes to the two
services' target groups) and the WAF web ACL in front of it."""

from __future__ import annotations

from dataclasses import dataclass

from cdktf import TerraformStack

from modules.aws_target import AwsTarget
from modules.load_balancer import LoadBalancer, LoadBalancerProps, Route
from modules.network import Network
from modules.web_acl import IpAllowList, WebAcl, WebAclProps
from settings.edge import CertificateValidation, EdgeSettings
from stacks.naming import Names

# Both services listen on this port inside their tasks (their images' AUTH_PORT / APP_PORT).
SERVICE_PORT = 8000
# The auth service's public paths: credentials, accounts, API keys and the key set verifiers
# fetch. Everything else under /v1 belongs to the app; any other path gets the listener's 404.
AUTH_ROUTE = Route(
    name="auth",
    priority=10,
    target_port=SERVICE_PORT,
    path_patterns=("/v1/token*", "/v1/users*", "/v1/api-keys*", "/.well-known/jwks.json"),
)
APP_ROUTE = Route(
    name="app", priority=20, target_port=SERVICE_PORT, path_patterns=("/v1/devices*",)
)
# Where the auth service takes credentials: the WAF's tighter rate rule guards it.
LOGIN_PATH = "/v1/token"


@dataclass(frozen=True)
class Edge:
    load_balancer: LoadBalancer
    web_acl: WebAcl


def build_edge(
    stack: TerraformStack,
    names: Names,
    target: AwsTarget,
    cfg: EdgeSettings,
    network: Network,
    *,
    vpc_cidr: str,
    logs_key_arn: str,
    log_retention_days: int,
    deletion_protection: bool,
) -> Edge:
    load_balancer = LoadBalancer(
        stack,
        "load-balancer",
        LoadBalancerProps(
            name=names.load_balancer,
            target=target,
            vpc_id=network.vpc_id,
            vpc_cidr=vpc_cidr,
            public_subnet_ids=tuple(network.public_subnet_ids),
            domain_name=cfg.domain_name,
            log_bucket_name=names.bucket("alb-logs", target.account_id),
            routes=(AUTH_ROUTE, APP_ROUTE),
            zone_id=cfg.zone_id
            if cfg.certificate_validation is CertificateValidation.ROUTE53
            else None,
            deletion_protection=deletion_protection,
            log_retention_days=log_retention_days,
            prevent_destroy=deletion_protection,
        ),
    )
    allow_list = (
        IpAllowList(
            cidrs=tuple(cfg.allow_list.cidrs), path_prefixes=tuple(cfg.allow_list.path_prefixes)
        )
        if cfg.allow_list is not None
        else None
    )
    web_acl = WebAcl(
        stack,
        "web-acl",
        WebAclProps(
            name=names.web_acl,
            target=target,
            resource_arn=load_balancer.arn,
            log_kms_key_arn=logs_key_arn,
            log_retention_days=log_retention_days,
            rate_limit_per_ip=cfg.rate_limit_per_ip,
            login_rate_limit_per_ip=cfg.login_rate_limit_per_ip,
            login_path_prefix=LOGIN_PATH,
            rate_window_seconds=cfg.rate_window_seconds,
            ip_allow_list=allow_list,
        ),
    )
    return Edge(load_balancer=load_balancer, web_acl=web_acl)
