"""An ECS Fargate service behind a target group: its task definition (one hardened container,
optionally an X-Ray daemon beside it), an execution role and a task role that name exactly what
they use, a log group created first with a key and a retention, a security group of its own
(in from the load balancer only, out only where it is told), the service (rolling deployments
that roll back by themselves and that `terraform apply` waits for) and target-tracking
autoscaling on CPU and on requests per task. Knows nothing about environments or config files.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cdktf import TerraformResource, TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.appautoscaling_policy import (
    AppautoscalingPolicy,
    AppautoscalingPolicyTargetTrackingScalingPolicyConfiguration,
    AppautoscalingPolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecification,
)
from cdktf_cdktf_provider_aws.appautoscaling_target import AppautoscalingTarget
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.ecs_service import (
    EcsService,
    EcsServiceCapacityProviderStrategy,
    EcsServiceDeploymentCircuitBreaker,
    EcsServiceDeploymentController,
    EcsServiceLoadBalancer,
    EcsServiceNetworkConfiguration,
)
from cdktf_cdktf_provider_aws.ecs_task_definition import (
    EcsTaskDefinition,
    EcsTaskDefinitionRuntimePlatform,
    EcsTaskDefinitionVolume,
)
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.security_group import SecurityGroup
from cdktf_cdktf_provider_aws.vpc_security_group_egress_rule import VpcSecurityGroupEgressRule
from cdktf_cdktf_provider_aws.vpc_security_group_ingress_rule import VpcSecurityGroupIngressRule
from constructs import Construct

from modules.aws_target import AwsTarget
from modules.lambda_function import LOG_RETENTION_DAYS
from modules.policy import Statement, policy_document, service_assume_role_policy
from modules.props import check_arn, is_token, require

# Fargate's task sizes (Linux): CPU units -> the memory sizes (MiB) allowed with it.
FARGATE_SIZES: Mapping[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}
CPU_ARCHITECTURES = ("ARM64", "X86_64")
HEALTH_PATH = "/health"
# The image's own readiness is the load balancer's business; this is liveness only: ECS replaces
# a task whose process stops answering. The images ship Python, not curl.
HEALTH_CHECK = {"interval": 15, "timeout": 5, "retries": 3, "startPeriod": 30}
# What ECR needs from the puller, on the repository (AmazonECSTaskExecutionRolePolicy's actions,
# narrowed to one repository).
ECR_PULL_ACTIONS = (
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
)
# What an X-Ray daemon calls with the task's credentials.
XRAY_ACTIONS = (
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
)
XRAY_CONTAINER = "xray-daemon"
# The X-Ray SDKs send to 127.0.0.1:2000/udp by default; in awsvpc mode the containers of a task
# share one network namespace, so the daemon needs no port mapping and no security-group rule.
XRAY_DAEMON_ADDRESS = "127.0.0.1:2000"

_NAME = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$")
# `<name>-execution` must fit IAM's 64-character role names.
_MAX_NAME = 64 - len("-execution")
_CONTAINER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$")
_LOG_GROUP_NAME = re.compile(r"^[A-Za-z0-9._/#-]{1,512}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Set by ECS or the Fargate agent: overriding them breaks credentials or metadata.
_RESERVED_ENV = frozenset(
    {
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN",
        "AWS_EXECUTION_ENV",
        "ECS_AGENT_URI",
        "ECS_CONTAINER_METADATA_URI",
        "ECS_CONTAINER_METADATA_URI_V4",
    }
)
# `repository@sha256:<digest>`: the registry host (with an optional port), then path components.
_PINNED_IMAGE = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9.-]*(?::\d+)?(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"@sha256:[0-9a-f]{64}$"
)
_DIGEST_TAIL = re.compile(r"@sha256:[0-9a-f]{64}$")
# How cdktf writes an unresolved token inside a Python string.
_TOKEN = re.compile(r"\$\{TfToken\[TOKEN\.\d+\]\}")
_USER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(?::[A-Za-z0-9_][A-Za-z0-9_.-]*)?$")
_ROOT_USERS = frozenset({"root", "0"})
_RETENTIONS = sorted(LOG_RETENTION_DAYS)
# `arn:<partition>:secretsmanager:<region>:<account>:secret:<name>` (7 fields), optionally
# followed by `:<json-key>:<version-stage>:<version-id>` (10 fields).
_SECRET_SUFFIX = re.compile(r":[^:]*:[^:]*:[^:]*$")
_TARGET_LABEL = re.compile(r"^app/[A-Za-z0-9-]+/[0-9a-f]+/targetgroup/[A-Za-z0-9-]+/[0-9a-f]+$")
# Security group rule descriptions: AWS's allowed characters.
_RULE_DESCRIPTION = re.compile(r"^[A-Za-z0-9. _\-:/()#,@\[\]+=&;{}!$*]{1,255}$")


def _literal_tail(value: str) -> str:
    """What follows the last token in a string (the whole string if it has none)."""
    tokens = list(_TOKEN.finditer(value))
    return value[tokens[-1].end() :] if tokens else value


def looks_like_secret(name: str) -> bool:
    """An environment name that announces a secret: a password, a secret, a token. `..._ARN`
    names (the ARN of a secret the application reads itself) are not secrets."""
    upper = name.upper()
    if upper.endswith("_ARN"):
        return False
    return "PASSWORD" in upper or "SECRET" in upper or upper.endswith("_TOKEN")


def image_is_pinned(image: str) -> bool:
    """`<repository>@sha256:<64 hex>`, or a reference resolved later (a Terraform variable, a
    repository URL) that ends with the reference itself or with a digest: a tag (`:latest`,
    `:v1`) or a bare repository after a reference can move, and is refused."""
    if is_token(image):
        tail = _literal_tail(image)
        return tail == "" or _DIGEST_TAIL.search(tail) is not None
    return _PINNED_IMAGE.match(image) is not None


def secret_policy_arn(value_from: str) -> str:
    """The secret's ARN for IAM: a `valueFrom` without its `:<json-key>:<stage>:<version>`."""
    if is_token(value_from):
        tail = _literal_tail(value_from)
        if tail and _SECRET_SUFFIX.fullmatch(tail):
            return value_from[: len(value_from) - len(tail)]
        return value_from
    parts = value_from.split(":")
    return ":".join(parts[:7])


def _secret_value_ok(value_from: str) -> bool:
    if is_token(value_from):
        tail = _literal_tail(value_from)
        return tail == "" or _SECRET_SUFFIX.fullmatch(tail) is not None
    parts = value_from.split(":")
    return (
        len(parts) in (7, 10)
        and parts[0] == "arn"
        and parts[1].startswith("aws")
        and parts[2] == "secretsmanager"
        and re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", parts[3]) is not None
        and re.fullmatch(r"\d{12}", parts[4]) is not None
        and parts[5] == "secret"
        and parts[6] != ""
    )


def health_check_command(port: int) -> list[str]:
    """`CMD-SHELL` running Python's urllib against `/health`: any error or non-2xx exits 1."""
    url = f"http://127.0.0.1:{port}{HEALTH_PATH}"
    return [
        "CMD-SHELL",
        f"python -c \"import urllib.request; urllib.request.urlopen('{url}', timeout=3)\"",
    ]


@dataclass(frozen=True)
class EgressRule:
    """One way out of the tasks' security group: TCP `port` to exactly one destination (a
    security group, a managed prefix list such as S3's, or an IPv4 CIDR)."""

    description: str
    port: int
    security_group_id: str | None = None
    prefix_list_id: str | None = None
    cidr_ipv4: str | None = None

    def __post_init__(self) -> None:
        require(
            is_token(self.description) or _RULE_DESCRIPTION.match(self.description) is not None,
            "EgressRule.description",
            self.description,
            "must be 1-255 characters of a-z A-Z 0-9 . _ - : / ( ) # , @ [ ] + = & ; { } ! $ *",
        )
        require(1 <= self.port <= 65535, "EgressRule.port", self.port, "is outside 1..65535")
        destinations = [
            d for d in (self.security_group_id, self.prefix_list_id, self.cidr_ipv4) if d
        ]
        require(
            len(destinations) == 1,
            "EgressRule.destination",
            destinations,
            "give exactly one of security_group_id, prefix_list_id, cidr_ipv4",
        )
        sg = self.security_group_id
        require(
            sg is None or is_token(sg) or re.fullmatch(r"sg-[0-9a-f]{8,17}", sg) is not None,
            "EgressRule.security_group_id",
            sg,
            "is not a security group id (sg-...)",
        )
        pl = self.prefix_list_id
        require(
            pl is None or is_token(pl) or re.fullmatch(r"pl-[0-9a-f]{8,17}", pl) is not None,
            "EgressRule.prefix_list_id",
            pl,
            "is not a prefix list id (pl-...)",
        )
        if self.cidr_ipv4 is not None and not is_token(self.cidr_ipv4):
            try:
                network = ipaddress.ip_network(self.cidr_ipv4)
            except ValueError:
                network = None
            require(
                network is not None and network.version == 4,
                "EgressRule.cidr_ipv4",
                self.cidr_ipv4,
                "is not an IPv4 CIDR block",
            )

    @property
    def key(self) -> str:
        """The rule's construct id, from its description (so reordering moves no state)."""
        return "egress-" + re.sub(r"[^a-z0-9]+", "-", self.description.lower()).strip("-")


@dataclass(frozen=True)
class FargateServiceProps:
    """Props of `FargateService`."""

    name: str
    """Prefix of every resource name, e.g. `checkins-prod-auth`: the service, the task family,
    the security group (`<name>-tasks`), the roles (`<name>-task`, `<name>-execution`) and the
    scaling policies (`<name>-cpu`, `<name>-requests`)."""
    target: AwsTarget
    cluster_arn: str
    """The cluster (`EcsCluster.arn`: read through its capacity providers, so the service waits
    for FARGATE to be associated)."""
    cluster_name: str
    """The same cluster's name (`EcsCluster.name`), for the autoscaling resource id."""
    vpc_id: str
    subnet_ids: tuple[str, ...]
    """Private subnets of the tasks (no public IP is assigned)."""
    image: str
    """`<repository>@sha256:<digest>`, or a reference such as a Terraform variable; a tag is
    refused (a tag can move, a digest cannot)."""
    repository_arn: str
    """The ECR repository of `image`: the only one the execution role may pull from."""
    load_balancer_security_group_id: str
    """The only source admitted, on `container_port`."""
    target_group_arn: str
    """An `ip` target group; the service registers its tasks in it."""
    request_count_resource_label: str
    """`<load balancer arn_suffix>/<target group arn_suffix>`: the ALBRequestCountPerTarget
    metric of the scaling policy."""
    egress: tuple[EgressRule, ...]
    """Every way out of the tasks (HTTPS to the VPC endpoints, the S3 prefix list, the database
    port, ...). No default: there is no `0.0.0.0/0` unless a rule says so."""
    log_group_name: str
    """E.g. `/ecs/checkins-prod/auth`: created here, before the service."""
    log_kms_key_arn: str
    """Encrypts the log group (its policy must admit CloudWatch Logs for the group)."""
    log_retention_days: int
    """A CloudWatch Logs retention (1, 3, 5, 7, 14, 30, 60, 90, ...)."""
    environment: Mapping[str, str] = field(default_factory=dict)
    """Settings for the container: never a secret (anyone who may describe the task definition
    reads them); names with PASSWORD or SECRET, or ending in _TOKEN, are refused (`..._ARN`
    names excepted). @default {}"""
    secrets: Mapping[str, str] = field(default_factory=dict)
    """Name -> Secrets Manager secret ARN, or `<secret ARN>:<json-key>::` for one field of a
    JSON secret; ECS injects them at start (a rotated secret reaches new tasks only). @default {}"""
    secrets_kms_key_arn: str | None = None
    """The key of those secrets (required with `secrets`): the execution role may decrypt with
    it through Secrets Manager only. @default None"""
    task_statements: tuple[Statement, ...] = ()
    """What the application may do with the task role. @default ()"""
    extra_security_group_ids: tuple[str, ...] = ()
    """More groups the tasks join, e.g. a database's client group. @default ()"""
    container_name: str = "app"
    """@default app"""
    container_port: int = 8000
    """@default 8000"""
    cpu: int = 256
    """CPU units (a Fargate size). @default 256"""
    memory: int = 512
    """MiB, one of those Fargate allows with `cpu`. @default 512"""
    cpu_architecture: str = "ARM64"
    """ARM64 (Graviton: cheaper, no Fargate Spot) or X86_64; the image must match. @default ARM64"""
    user: str = "10001:10001"
    """`uid[:gid]` the container runs as; root is refused. @default 10001:10001 (the images')"""
    writable_tmp: bool = False
    """Mount a task-local volume at /tmp; otherwise nothing is writable. @default False"""
    desired_count: int = 2
    """Tasks at the first deployment; autoscaling owns the count afterwards. @default 2"""
    min_count: int = 2
    """@default 2"""
    max_count: int = 4
    """@default 4"""
    cpu_target_percent: int = 60
    """Average CPU the scaling keeps the service at. @default 60"""
    requests_per_target: int = 500
    """Requests per task per minute the scaling keeps the service at. @default 500"""
    health_check_grace_period_seconds: int = 60
    """How long new tasks' failed load-balancer health checks are ignored. @default 60"""
    stop_timeout_seconds: int = 30
    """Time between SIGTERM and SIGKILL: the application drains in it. @default 30"""
    xray_sidecar: bool = False
    """Run an X-Ray daemon beside the application (it listens on 127.0.0.1:2000/udp) and let
    the task role send traces. @default False"""
    xray_image: str | None = None
    """The daemon's image, pinned like `image` (required with `xray_sidecar`; from a public
    registry, or pulling needs a permission this role does not have). @default None"""

    def __post_init__(self) -> None:
        require(
            _NAME.match(self.name) is not None and len(self.name) <= _MAX_NAME,
            "FargateServiceProps.name",
            self.name,
            f"is not a-z, 0-9, - (letter first, at most {_MAX_NAME} characters)",
        )
        require(
            self.cpu in FARGATE_SIZES,
            "FargateServiceProps.cpu",
            self.cpu,
            f"is not a Fargate CPU size; valid: {', '.join(map(str, FARGATE_SIZES))}",
        )
        memories = FARGATE_SIZES[self.cpu]
        require(
            self.memory in memories,
            "FargateServiceProps.memory",
            self.memory,
            f"is not valid with cpu {self.cpu}; valid: {', '.join(map(str, memories))}",
        )
        require(
            self.cpu_architecture in CPU_ARCHITECTURES,
            "FargateServiceProps.cpu_architecture",
            self.cpu_architecture,
            f"must be one of {', '.join(CPU_ARCHITECTURES)}",
        )
        require(
            isinstance(self.image, str) and image_is_pinned(self.image),
            "FargateServiceProps.image",
            self.image,
            "must be pinned by digest (<repository>@sha256:<64 hex>) or be a reference; "
            "a tag such as :latest can move",
        )
        check_arn(
            "FargateServiceProps.repository_arn",
            self.repository_arn,
            service="ecr",
            resource="repository/",
        )
        require(
            _USER.match(self.user) is not None,
            "FargateServiceProps.user",
            self.user,
            "is not uid[:gid] or user[:group]",
        )
        require(
            self.user.split(":")[0] not in _ROOT_USERS,
            "FargateServiceProps.user",
            self.user,
            "must not be root: run as an unprivileged user",
        )
        require(
            _CONTAINER_NAME.match(self.container_name) is not None
            and self.container_name != XRAY_CONTAINER,
            "FargateServiceProps.container_name",
            self.container_name,
            f"is not a container name (A-Z, a-z, 0-9, _ -; not {XRAY_CONTAINER})",
        )
        require(
            1 <= self.container_port <= 65535,
            "FargateServiceProps.container_port",
            self.container_port,
            "is outside 1..65535",
        )
        require(
            len(self.subnet_ids) >= 1 and len(set(self.subnet_ids)) == len(self.subnet_ids),
            "FargateServiceProps.subnet_ids",
            self.subnet_ids,
            "must name at least one subnet, each once",
        )
        require(
            len(self.egress) >= 1,
            "FargateServiceProps.egress",
            self.egress,
            "must name at least one rule (a task that reaches nothing cannot pull its image)",
        )
        keys = [rule.key for rule in self.egress]
        require(
            len(set(keys)) == len(keys),
            "FargateServiceProps.egress",
            [rule.description for rule in self.egress],
            "rule descriptions must be distinct",
        )
        require(
            is_token(self.request_count_resource_label)
            or _TARGET_LABEL.match(self.request_count_resource_label) is not None,
            "FargateServiceProps.request_count_resource_label",
            self.request_count_resource_label,
            "is not app/<lb name>/<id>/targetgroup/<tg name>/<id> (the two arn_suffixes)",
        )
        require(
            _LOG_GROUP_NAME.match(self.log_group_name) is not None,
            "FargateServiceProps.log_group_name",
            self.log_group_name,
            "is not a log group name (1-512 of A-Z, a-z, 0-9, . _ / # -)",
        )
        require(
            self.log_retention_days in LOG_RETENTION_DAYS,
            "FargateServiceProps.log_retention_days",
            self.log_retention_days,
            f"is not a CloudWatch Logs retention ({', '.join(map(str, _RETENTIONS))})",
        )
        check_arn("FargateServiceProps.log_kms_key_arn", self.log_kms_key_arn, service="kms")
        self._check_environment()
        self._check_counts()
        require(
            1 <= self.cpu_target_percent <= 100,
            "FargateServiceProps.cpu_target_percent",
            self.cpu_target_percent,
            "is outside 1..100",
        )
        require(
            self.requests_per_target >= 1,
            "FargateServiceProps.requests_per_target",
            self.requests_per_target,
            "must be at least 1",
        )
        require(
            0 <= self.health_check_grace_period_seconds <= 3600,
            "FargateServiceProps.health_check_grace_period_seconds",
            self.health_check_grace_period_seconds,
            "is outside 0..3600",
        )
        require(
            2 <= self.stop_timeout_seconds <= 120,
            "FargateServiceProps.stop_timeout_seconds",
            self.stop_timeout_seconds,
            "is outside 2..120 (Fargate's limits)",
        )
        require(
            (self.xray_image is not None) == self.xray_sidecar,
            "FargateServiceProps.xray_image",
            self.xray_image,
            "is required with xray_sidecar, and only with it",
        )
        require(
            self.xray_image is None or image_is_pinned(self.xray_image),
            "FargateServiceProps.xray_image",
            self.xray_image,
            "must be pinned by digest (<repository>@sha256:<64 hex>) or be a reference",
        )

    def _check_environment(self) -> None:
        for field_name, names in (("environment", self.environment), ("secrets", self.secrets)):
            bad = sorted(n for n in names if not _ENV_NAME.match(n) or n in _RESERVED_ENV)
            require(
                not bad,
                f"FargateServiceProps.{field_name}",
                bad,
                "are not valid names or are set by ECS",
            )
        secret_looking = sorted(n for n in self.environment if looks_like_secret(n))
        require(
            not secret_looking,
            "FargateServiceProps.environment",
            secret_looking,
            "look like secrets (PASSWORD, SECRET, *_TOKEN): pass them in `secrets`",
        )
        not_strings = sorted(n for n, v in self.environment.items() if not isinstance(v, str))
        require(
            not not_strings,
            "FargateServiceProps.environment",
            not_strings,
            "values must be strings",
        )
        both = sorted(set(self.environment) & set(self.secrets))
        require(
            not both,
            "FargateServiceProps.secrets",
            both,
            "are also in environment: a name comes from one place",
        )
        bad_refs = sorted(n for n, v in self.secrets.items() if not _secret_value_ok(v))
        require(
            not bad_refs,
            "FargateServiceProps.secrets",
            bad_refs,
            "are not Secrets Manager secret ARNs (arn:...:secret:<name>[:<json-key>::])",
        )
        require(
            (self.secrets_kms_key_arn is not None) == bool(self.secrets),
            "FargateServiceProps.secrets_kms_key_arn",
            self.secrets_kms_key_arn,
            "is required with secrets, and only with them",
        )
        if self.secrets_kms_key_arn is not None:
            check_arn(
                "FargateServiceProps.secrets_kms_key_arn", self.secrets_kms_key_arn, service="kms"
            )

    def _check_counts(self) -> None:
        require(
            self.desired_count >= 1,
            "FargateServiceProps.desired_count",
            self.desired_count,
            "must be at least 1",
        )
        require(
            self.min_count >= 1,
            "FargateServiceProps.min_count",
            self.min_count,
            "must be at least 1 (no task: the load balancer answers 503)",
        )
        require(
            self.min_count <= self.desired_count <= self.max_count,
            "FargateServiceProps.desired_count",
            self.desired_count,
            f"must be within min_count..max_count ({self.min_count}..{self.max_count})",
        )

    @property
    def secret_arns(self) -> tuple[str, ...]:
        """The distinct secrets `secrets` reads, as IAM names them (no JSON key)."""
        arns = (secret_policy_arn(self.secrets[n]) for n in sorted(self.secrets))
        return tuple(dict.fromkeys(arns))


def _log_configuration(props: FargateServiceProps) -> dict[str, Any]:
    return {
        "logDriver": "awslogs",
        "options": {
            "awslogs-group": props.log_group_name,
            "awslogs-region": props.target.region,
            "awslogs-stream-prefix": "ecs",
            # A slow CloudWatch Logs never blocks the application's stdout; the buffer absorbs
            # bursts (lines beyond it are dropped, not waited for).
            "mode": "non-blocking",
            "max-buffer-size": "25m",
        },
    }


def _hardening(props: FargateServiceProps) -> dict[str, Any]:
    """What every container of the task shares: an unprivileged user, a read-only root, no
    Linux capabilities (the ports are above 1024; Fargate allows dropping any capability)."""
    return {
        "user": props.user,
        "readonlyRootFilesystem": True,
        "privileged": False,
        "linuxParameters": {"capabilities": {"drop": ["ALL"]}},
    }


def container_definitions(props: FargateServiceProps) -> list[dict[str, Any]]:
    """The task's containers, as the task definition renders them (environment and secrets
    sorted by name: the same props give the same JSON)."""
    port = props.container_port
    app: dict[str, Any] = {
        "name": props.container_name,
        "image": props.image,
        "essential": True,
        **_hardening(props),
        "portMappings": [{"containerPort": port, "hostPort": port, "protocol": "tcp"}],
    }
    if props.environment:
        app["environment"] = [
            {"name": n, "value": props.environment[n]} for n in sorted(props.environment)
        ]
    if props.secrets:
        app["secrets"] = [{"name": n, "valueFrom": props.secrets[n]} for n in sorted(props.secrets)]
    if props.writable_tmp:
        app["mountPoints"] = [{"sourceVolume": "tmp", "containerPath": "/tmp", "readOnly": False}]  # noqa: S108
    app["healthCheck"] = {"command": health_check_command(port), **HEALTH_CHECK}
    app["stopTimeout"] = props.stop_timeout_seconds
    app["logConfiguration"] = _log_configuration(props)
    containers = [app]
    if props.xray_sidecar:
        containers.append(
            {
                "name": XRAY_CONTAINER,
                "image": props.xray_image,
                # Tracing is not worth a task: the application keeps running without it.
                "essential": False,
                **_hardening(props),
                # Fargate has no instance metadata to read the region from.
                "environment": [{"name": "AWS_REGION", "value": props.target.region}],
                "memoryReservation": 64,
                "logConfiguration": _log_configuration(props),
            }
        )
    return containers


class FargateService(Construct):
    """Attributes: `service_name`, `security_group_id`, `task_role_arn` and `task_role_name`
    (known before the role exists: a secret's or a key's policy may name it),
    `execution_role_arn`, `log_group_name`, `task_definition_arn`, `container_definition` (the
    main container as rendered). `wait_for(*resources)`: the service is created after them (the
    listener rule forwarding to the target group: ECS refuses a target group that no load
    balancer uses yet)."""

    def __init__(self, scope: Construct, id_: str, props: FargateServiceProps) -> None:
        super().__init__(scope, id_)
        self._props = props
        target = props.target
        name = props.name
        self._containers = container_definitions(props)
        self.log_group_name: str = props.log_group_name
        self.task_role_name: str = f"{name}-task"
        self.task_role_arn: str = target.arn("iam", f"role/{self.task_role_name}")
        execution_role_name = f"{name}-execution"
        self.execution_role_arn: str = target.arn("iam", f"role/{execution_role_name}")
        log_group_arn = target.arn("logs", f"log-group:{props.log_group_name}")

        log_group = CloudwatchLogGroup(
            self,
            "log-group",
            name=props.log_group_name,
            kms_key_id=props.log_kms_key_arn,
            retention_in_days=props.log_retention_days,
            tags={"Name": props.log_group_name},
        )
        # Assumed by ECS tasks of this account and region only (confused deputy).
        trust = service_assume_role_policy(
            "ecs-tasks.amazonaws.com", target.account_id, source_arn=target.arn("ecs", "*")
        )
        execution_role = IamRole(
            self,
            "execution-role",
            name=execution_role_name,
            description=f"ECS pulls the image, writes the logs and reads the secrets of {name}",
            assume_role_policy=trust,
            tags={"Name": execution_role_name},
        )
        execution_policy = IamRolePolicy(
            self,
            "execution-policy",
            name=execution_role_name,
            role=execution_role.id,
            policy=policy_document(*self._execution_statements(log_group_arn)),
        )
        task_role = IamRole(
            self,
            "task-role",
            name=self.task_role_name,
            description=f"What the application of {name} may do",
            assume_role_policy=trust,
            tags={"Name": self.task_role_name},
        )
        task_statements = self._task_statements()
        task_policy = (
            IamRolePolicy(
                self,
                "task-policy",
                name=self.task_role_name,
                role=task_role.id,
                policy=policy_document(*task_statements),
            )
            if task_statements
            else None
        )

        task_definition = EcsTaskDefinition(
            self,
            "task-definition",
            family=name,
            requires_compatibilities=["FARGATE"],
            network_mode="awsvpc",
            cpu=str(props.cpu),
            memory=str(props.memory),
            runtime_platform=EcsTaskDefinitionRuntimePlatform(
                operating_system_family="LINUX", cpu_architecture=props.cpu_architecture
            ),
            execution_role_arn=execution_role.arn,
            task_role_arn=task_role.arn,
            container_definitions=json.dumps(self._containers, separators=(",", ":")),
            # A bind mount without a host path: task-local Fargate ephemeral storage.
            volume=[EcsTaskDefinitionVolume(name="tmp")] if props.writable_tmp else None,
            tags={"Name": name},
            # The service moves to the new revision before the old one is deregistered.
            lifecycle=TerraformResourceLifecycle(create_before_destroy=True),
        )
        self.task_definition_arn: str = task_definition.arn

        sg = SecurityGroup(
            self,
            "security-group",
            name=f"{name}-tasks",
            description=f"Tasks of {name}: in from the load balancer only, out as listed",
            vpc_id=props.vpc_id,
            tags={"Name": f"{name}-tasks"},
        )
        VpcSecurityGroupIngressRule(
            self,
            "ingress-load-balancer",
            security_group_id=sg.id,
            ip_protocol="tcp",
            from_port=props.container_port,
            to_port=props.container_port,
            referenced_security_group_id=props.load_balancer_security_group_id,
            description="Requests and health checks from the load balancer",
            tags={"Name": f"{name}-tasks-in-{props.container_port}"},
        )
        for rule in props.egress:
            VpcSecurityGroupEgressRule(
                self,
                rule.key,
                security_group_id=sg.id,
                ip_protocol="tcp",
                from_port=rule.port,
                to_port=rule.port,
                referenced_security_group_id=rule.security_group_id,
                prefix_list_id=rule.prefix_list_id,
                cidr_ipv4=rule.cidr_ipv4,
                description=rule.description,
                tags={"Name": f"{name}-tasks-out-{rule.port}"},
            )
        self.security_group_id: str = sg.id

        service = EcsService(
            self,
            "service",
            name=name,
            cluster=props.cluster_arn,
            task_definition=task_definition.arn,
            desired_count=props.desired_count,
            capacity_provider_strategy=[
                EcsServiceCapacityProviderStrategy(capacity_provider="FARGATE", weight=1, base=0)
            ],
            network_configuration=EcsServiceNetworkConfiguration(
                subnets=list(props.subnet_ids),
                security_groups=[sg.id, *props.extra_security_group_ids],
                assign_public_ip=False,
            ),
            load_balancer=[
                EcsServiceLoadBalancer(
                    target_group_arn=props.target_group_arn,
                    container_name=props.container_name,
                    container_port=props.container_port,
                )
            ],
            health_check_grace_period_seconds=props.health_check_grace_period_seconds,
            # The circuit breaker works with the rolling (ECS) controller only.
            deployment_controller=EcsServiceDeploymentController(type="ECS"),
            deployment_circuit_breaker=EcsServiceDeploymentCircuitBreaker(
                enable=True, rollback=True
            ),
            # Full capacity throughout a deployment: new tasks start before old ones stop.
            deployment_minimum_healthy_percent=100,
            deployment_maximum_percent=200,
            # `apply` fails when the deployment does (otherwise it succeeds and ECS rolls back).
            wait_for_steady_state=True,
            # No shell into tasks: it needs a writable root file system for the SSM agent,
            # ssmmessages permissions and endpoint, and it bypasses the application's audit.
            enable_execute_command=False,
            enable_ecs_managed_tags=True,
            propagate_tags="SERVICE",
            tags={"Name": name},
            # Autoscaling owns the count after the first deployment: a plan must not reset it.
            lifecycle=TerraformResourceLifecycle(ignore_changes=["desired_count"]),
            # The roles' permissions exist before the first task needs them.
            depends_on=[log_group, execution_policy, *([task_policy] if task_policy else [])],
        )
        self._service = service
        self.service_name: str = service.name

        scaling = AppautoscalingTarget(
            self,
            "scaling-target",
            service_namespace="ecs",
            scalable_dimension="ecs:service:DesiredCount",
            resource_id=f"service/{props.cluster_name}/{service.name}",
            min_capacity=props.min_count,
            max_capacity=props.max_count,
            tags={"Name": name},
        )
        for suffix, metric, value, label in (
            ("cpu", "ECSServiceAverageCPUUtilization", props.cpu_target_percent, None),
            (
                "requests",
                "ALBRequestCountPerTarget",
                props.requests_per_target,
                props.request_count_resource_label,
            ),
        ):
            AppautoscalingPolicy(
                self,
                f"scaling-{suffix}",
                name=f"{name}-{suffix}",
                policy_type="TargetTrackingScaling",
                service_namespace=scaling.service_namespace,
                scalable_dimension=scaling.scalable_dimension,
                resource_id=scaling.resource_id,
                target_tracking_scaling_policy_configuration=AppautoscalingPolicyTargetTrackingScalingPolicyConfiguration(
                    target_value=value,
                    predefined_metric_specification=AppautoscalingPolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecification(
                        predefined_metric_type=metric, resource_label=label
                    ),
                    # Out fast, in slowly: a brief lull does not cost the next burst its tasks.
                    scale_out_cooldown=60,
                    scale_in_cooldown=300,
                ),
            )

    def _execution_statements(self, log_group_arn: str) -> list[Statement]:
        props = self._props
        statements = [
            Statement(
                sid="PullsItsImage",
                actions=list(ECR_PULL_ACTIONS),
                resources=[props.repository_arn],
            ),
            Statement(
                sid="GetsRegistryToken",
                actions=["ecr:GetAuthorizationToken"],
                # GetAuthorizationToken supports no resource-level permission: the token is for
                # the registry as a whole; what it may pull is decided by PullsItsImage.
                resources=["*"],
            ),
            Statement(
                sid="WritesItsLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[f"{log_group_arn}:*"],
            ),
        ]
        if props.secrets:
            statements += [
                Statement(
                    sid="ReadsItsSecrets",
                    actions=["secretsmanager:GetSecretValue"],
                    resources=list(props.secret_arns),
                ),
                Statement(
                    sid="DecryptsItsSecrets",
                    actions=["kms:Decrypt"],
                    resources=[props.secrets_kms_key_arn or ""],
                    conditions={
                        "StringEquals": {
                            "kms:ViaService": props.target.service_principal("secretsmanager")
                        }
                    },
                ),
            ]
        return statements

    def _task_statements(self) -> list[Statement]:
        props = self._props
        statements = list(props.task_statements)
        if props.xray_sidecar:
            statements.append(
                Statement(
                    sid="SendsTraces",
                    actions=list(XRAY_ACTIONS),
                    # These X-Ray actions support no resource-level permission.
                    resources=["*"],
                )
            )
        return statements

    @property
    def container_definition(self) -> dict[str, Any]:
        """The main container as the task definition renders it (a copy): its `environment`
        and `secrets` lists say which names the task gives the application."""
        return copy.deepcopy(self._containers[0])

    def wait_for(self, *resources: TerraformResource) -> None:
        """Create (and update) the service after `resources` (of the same stack)."""
        addresses = [f"{r.terraform_resource_type}.{r.friendly_unique_id}" for r in resources]
        self._service.depends_on = [*(self._service.depends_on or []), *addresses]
