"""A Python Lambda function inside the VPC: its deployment package (a deterministic local zip, see
`toolchain/lambda_package.py`, or an object in S3, e.g. the output of a Signer job), its own role
with exactly the permissions it is given plus what every VPC function needs, its log group
(created first, with a KMS key and a retention), X-Ray tracing, a security group whose only
egress is HTTPS to the VPC endpoints, an environment encrypted with a customer-managed key, and
optionally a code-signing configuration and the asynchronous-invocation settings (retries,
maximum event age, an SQS on-failure destination). Knows nothing about environments or config
files."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from cdktf import AssetType, TerraformAsset
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.lambda_function import (
    LambdaFunction as LambdaFunctionResource,
)
from cdktf_cdktf_provider_aws.lambda_function import (
    LambdaFunctionEnvironment,
    LambdaFunctionTracingConfig,
    LambdaFunctionVpcConfig,
)
from cdktf_cdktf_provider_aws.lambda_function_event_invoke_config import (
    LambdaFunctionEventInvokeConfig,
    LambdaFunctionEventInvokeConfigDestinationConfig,
    LambdaFunctionEventInvokeConfigDestinationConfigOnFailure,
)
from cdktf_cdktf_provider_aws.security_group import SecurityGroup, SecurityGroupTimeouts
from cdktf_cdktf_provider_aws.vpc_security_group_egress_rule import VpcSecurityGroupEgressRule
from constructs import Construct

from modules.aws_target import AwsTarget
from modules.policy import Statement, policy_document, service_assume_role_policy
from modules.props import check_arn, is_token, require

# AWSLambdaVPCAccessExecutionRole's EC2 actions: Lambda creates, describes and deletes the
# function's network interfaces with the function's role.
VPC_ACCESS_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
)
RUNTIMES = ("python3.12", "python3.13")
_FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ENV_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
# Names Lambda sets itself; a function may not override them.
_RESERVED_ENV = frozenset(
    {"_HANDLER", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV",
     "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
     "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY_ID",
     "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT",
     "LAMBDA_RUNTIME_DIR"}
)  # fmt: skip
TRACING_MODES = ("Active", "PassThrough")
# Asynchronous invocation (Lambda's PutFunctionEventInvokeConfig limits and defaults): Lambda
# retries a failed event up to twice and keeps an event queued for up to six hours.
ASYNC_MAX_RETRY_ATTEMPTS = 2
ASYNC_MAX_EVENT_AGE_RANGE = (60, 21600)
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# Lambda accepts these log retentions (CloudWatch Logs' list).
LOG_RETENTION_DAYS = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
     2922, 3288, 3653}
)  # fmt: skip


@dataclass(frozen=True)
class LambdaFunctionProps:
    """Props of `LambdaFunction`."""

    function_name: str
    """Also the role's name and the log group's (`/aws/lambda/<function_name>`)."""
    target: AwsTarget
    description: str
    code_path: str | None = field(default=None, kw_only=True)
    """The deployment package as a local zip (built by `toolchain.lambda_package`), shipped with
    the stack. Exactly one of `code_path` and `s3_bucket` is given. A function whose code-signing
    configuration enforces signatures cannot deploy a local zip: give `s3_bucket`/`s3_key`."""
    source_code_hash: str | None = field(default=None, kw_only=True)
    """Base64 SHA-256 of the zip: a new value deploys the new code (the provider compares
    nothing else). Required with `code_path`; optional with `s3_bucket`, where a new `s3_key` or
    `s3_object_version` deploys too."""
    handler: str
    vpc_id: str
    subnet_ids: tuple[str, ...]
    """Private subnets the function's network interfaces live in."""
    endpoint_security_group_id: str
    """The VPC endpoints' security group: the only place the function may connect to (443)."""
    log_kms_key_arn: str
    """Encrypts the log group (its policy must admit CloudWatch Logs for the group)."""
    log_retention_days: int
    environment_kms_key_arn: str
    """Encrypts the environment variables (a key IAM policies may grant: the role is given
    kms:Decrypt on it through Lambda)."""
    statements: tuple[Statement, ...] = ()
    """The function's own permissions, added to its role. @default ()"""
    environment: Mapping[str, str] = field(default_factory=dict)
    """Environment variables: settings only, never a secret (they are readable by anyone who may
    read the function's configuration). @default {}"""
    runtime: str = "python3.13"
    """@default python3.13"""
    architecture: str = "arm64"
    """@default arm64 (Graviton: cheaper per GB-second)"""
    memory_mb: int = 256
    """@default 256"""
    timeout_seconds: int = 30
    """@default 30"""
    reserved_concurrency: int | None = 1
    """Concurrent executions reserved (and capped); None: the account's unreserved pool.
    @default 1"""
    tracing_mode: str = "Active"
    """X-Ray: `Active` samples and traces every invocation; `PassThrough` traces only requests
    an upstream service already sampled. The role may write traces in both. @default "Active" """
    s3_bucket: str | None = None
    """The deployment package as an S3 object instead of `code_path` (a signed package lives in
    S3 after a Signer job): its bucket, in the function's region. @default None"""
    s3_key: str | None = None
    """The object's key (with `s3_bucket` only). @default None"""
    s3_object_version: str | None = None
    """The object's version, for a versioned bucket (with `s3_bucket` only). @default None (the
    latest version when Terraform creates or updates the function)"""
    code_signing_config_arn: str | None = None
    """A Lambda code-signing configuration (`modules.code_signing.CodeSigning.config_arn`):
    Lambda checks the package's signature on every deployment. @default None (no check)"""
    on_failure_destination_arn: str | None = None
    """An SQS queue that receives the record of every asynchronous invocation that failed after
    the last retry or expired: the role may send to exactly this queue. @default None"""
    on_failure_destination_kms_key_arn: str | None = None
    """The key that encrypts `on_failure_destination_arn` (SSE-KMS): the role may generate data
    keys and decrypt with it, through SQS only. @default None (a queue without a customer key)"""
    maximum_retry_attempts: int = ASYNC_MAX_RETRY_ATTEMPTS
    """Retries of a failed asynchronous invocation, 0..2. @default 2 (Lambda's default)"""
    maximum_event_age_in_seconds: int = ASYNC_MAX_EVENT_AGE_RANGE[1]
    """How long an asynchronous event may wait (throttled, or between retries) before it goes to
    the on-failure destination, 60..21600. @default 21600 (six hours, Lambda's default)"""

    @property
    def configures_async_invocation(self) -> bool:
        """An `aws_lambda_function_event_invoke_config` is needed: a destination, or retries or
        an event age other than Lambda's defaults."""
        return (
            self.on_failure_destination_arn is not None
            or self.maximum_retry_attempts != ASYNC_MAX_RETRY_ATTEMPTS
            or self.maximum_event_age_in_seconds != ASYNC_MAX_EVENT_AGE_RANGE[1]
        )

    def __post_init__(self) -> None:
        require(
            _FUNCTION_NAME.match(self.function_name) is not None,
            "LambdaFunctionProps.function_name",
            self.function_name,
            "is not a valid function name (1-64 of A-Z, a-z, 0-9, _ -)",
        )
        require(
            self.runtime in RUNTIMES,
            "LambdaFunctionProps.runtime",
            self.runtime,
            f"must be one of {', '.join(RUNTIMES)}",
        )
        require(
            self.architecture in ("arm64", "x86_64"),
            "LambdaFunctionProps.architecture",
            self.architecture,
            "must be arm64 or x86_64",
        )
        require(
            128 <= self.memory_mb <= 10240,
            "LambdaFunctionProps.memory_mb",
            self.memory_mb,
            "is outside 128..10240",
        )
        require(
            1 <= self.timeout_seconds <= 900,
            "LambdaFunctionProps.timeout_seconds",
            self.timeout_seconds,
            "is outside 1..900",
        )
        require(
            self.reserved_concurrency is None or self.reserved_concurrency >= 1,
            "LambdaFunctionProps.reserved_concurrency",
            self.reserved_concurrency,
            "must be at least 1 (0 throttles every invocation) or None",
        )
        require(
            self.log_retention_days in LOG_RETENTION_DAYS,
            "LambdaFunctionProps.log_retention_days",
            self.log_retention_days,
            "is not a CloudWatch Logs retention",
        )
        require(
            len(self.subnet_ids) >= 1,
            "LambdaFunctionProps.subnet_ids",
            self.subnet_ids,
            "must name at least one subnet",
        )
        bad_env = sorted(
            k for k in self.environment if not _ENV_NAME.match(k) or k in _RESERVED_ENV
        )
        require(
            not bad_env,
            "LambdaFunctionProps.environment",
            bad_env,
            "are not valid names or are reserved by Lambda",
        )
        check_arn("LambdaFunctionProps.log_kms_key_arn", self.log_kms_key_arn, service="kms")
        check_arn(
            "LambdaFunctionProps.environment_kms_key_arn",
            self.environment_kms_key_arn,
            service="kms",
        )
        require(
            self.tracing_mode in TRACING_MODES,
            "LambdaFunctionProps.tracing_mode",
            self.tracing_mode,
            f"must be one of {', '.join(TRACING_MODES)}",
        )
        self._check_package()
        if self.code_signing_config_arn is not None:
            check_arn(
                "LambdaFunctionProps.code_signing_config_arn",
                self.code_signing_config_arn,
                service="lambda",
                resource="code-signing-config:",
            )
        self._check_async_invocation()

    def _check_package(self) -> None:
        require(
            (self.code_path is None) != (self.s3_bucket is None),
            "LambdaFunctionProps.code_path",
            self.code_path,
            "give exactly one of code_path (a local zip) and s3_bucket/s3_key (an S3 object)",
        )
        if self.code_path is not None:
            require(
                bool(self.source_code_hash),
                "LambdaFunctionProps.source_code_hash",
                self.source_code_hash,
                "is required with code_path (without it a changed zip is never deployed)",
            )
            for name in ("s3_key", "s3_object_version"):
                require(
                    getattr(self, name) is None,
                    f"LambdaFunctionProps.{name}",
                    getattr(self, name),
                    "is only valid with s3_bucket",
                )
            return
        bucket = self.s3_bucket or ""
        require(
            is_token(bucket) or _BUCKET_NAME.match(bucket) is not None,
            "LambdaFunctionProps.s3_bucket",
            self.s3_bucket,
            "is not an S3 bucket name",
        )
        require(
            bool(self.s3_key) and not (self.s3_key or "").startswith("/"),
            "LambdaFunctionProps.s3_key",
            self.s3_key,
            "is required with s3_bucket (an object key, without a leading /)",
        )
        require(
            self.s3_object_version is None or bool(self.s3_object_version),
            "LambdaFunctionProps.s3_object_version",
            self.s3_object_version,
            "must not be empty (None: the latest version)",
        )

    def _check_async_invocation(self) -> None:
        require(
            0 <= self.maximum_retry_attempts <= ASYNC_MAX_RETRY_ATTEMPTS,
            "LambdaFunctionProps.maximum_retry_attempts",
            self.maximum_retry_attempts,
            f"is outside 0..{ASYNC_MAX_RETRY_ATTEMPTS}",
        )
        low, high = ASYNC_MAX_EVENT_AGE_RANGE
        require(
            low <= self.maximum_event_age_in_seconds <= high,
            "LambdaFunctionProps.maximum_event_age_in_seconds",
            self.maximum_event_age_in_seconds,
            f"is outside {low}..{high}",
        )
        if self.on_failure_destination_arn is not None:
            check_arn(
                "LambdaFunctionProps.on_failure_destination_arn",
                self.on_failure_destination_arn,
                service="sqs",
            )
        if self.on_failure_destination_kms_key_arn is not None:
            require(
                self.on_failure_destination_arn is not None,
                "LambdaFunctionProps.on_failure_destination_kms_key_arn",
                self.on_failure_destination_kms_key_arn,
                "is only valid with on_failure_destination_arn",
            )
            check_arn(
                "LambdaFunctionProps.on_failure_destination_kms_key_arn",
                self.on_failure_destination_kms_key_arn,
                service="kms",
            )


class LambdaFunction(Construct):
    """Attributes: `function_name`, `function_arn` (a reference: depend on the function through
    it), `role_name`, `role_arn` (known before the role exists: other policies may name it),
    `log_group_name`, `security_group_id`."""

    @staticmethod
    def _async_statements(props: LambdaFunctionProps, target: AwsTarget) -> list[Statement]:
        """What Lambda does with the role for an on-failure destination: send the record to the
        queue (and use the queue's key through SQS)."""
        if props.on_failure_destination_arn is None:
            return []
        statements = [
            Statement(
                sid="SendsFailedInvocationsToItsQueue",
                actions=["sqs:SendMessage"],
                resources=[props.on_failure_destination_arn],
            )
        ]
        if props.on_failure_destination_kms_key_arn is not None:
            statements.append(
                Statement(
                    sid="EncryptsFailedInvocationRecords",
                    actions=["kms:GenerateDataKey", "kms:Decrypt"],
                    resources=[props.on_failure_destination_kms_key_arn],
                    conditions={
                        "StringEquals": {"kms:ViaService": target.service_principal("sqs")}
                    },
                )
            )
        return statements

    def __init__(self, scope: Construct, id_: str, props: LambdaFunctionProps) -> None:
        super().__init__(scope, id_)
        target = props.target
        name = props.function_name
        self.function_name: str = name
        self.role_name: str = name
        self.role_arn: str = target.arn("iam", f"role/{name}")
        self.log_group_name: str = f"/aws/lambda/{name}"
        log_group_arn = target.arn("logs", f"log-group:{self.log_group_name}")

        log_group = CloudwatchLogGroup(
            self,
            "log-group",
            name=self.log_group_name,
            kms_key_id=props.log_kms_key_arn,
            retention_in_days=props.log_retention_days,
            tags={"Name": self.log_group_name},
        )
        role = IamRole(
            self,
            "role",
            name=name,
            description=f"Execution role of the Lambda function {name}",
            assume_role_policy=service_assume_role_policy(
                "lambda.amazonaws.com", target.account_id
            ),
            tags={"Name": name},
        )
        policy = IamRolePolicy(
            self,
            "role-policy",
            name=name,
            role=role.id,
            policy=policy_document(
                Statement(
                    sid="WritesItsOwnLogs",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[f"{log_group_arn}:log-stream:*"],
                ),
                Statement(
                    sid="SendsTraces",
                    actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                    # These actions support no resource-level permissions: "*" is the only
                    # resource IAM accepts for them. Granted in PassThrough mode too: a request
                    # an upstream service sampled is still traced.
                    resources=["*"],
                ),
                Statement(
                    sid="ManagesItsNetworkInterfaces",
                    actions=list(VPC_ACCESS_ACTIONS),
                    # Lambda checks these with resource "*" when the function is created (the
                    # interfaces do not exist yet) and the Describe actions support no
                    # resource-level permission: AWSLambdaVPCAccessExecutionRole grants them on
                    # "*" too.
                    resources=["*"],
                ),
                Statement(
                    sid="DecryptsItsEnvironment",
                    actions=["kms:Decrypt"],
                    resources=[props.environment_kms_key_arn],
                    conditions={
                        "StringEquals": {"kms:ViaService": target.service_principal("lambda")}
                    },
                ),
                *self._async_statements(props, target),
                *props.statements,
            ),
        )
        sg = SecurityGroup(
            self,
            "security-group",
            name=name,
            description=f"Lambda function {name}: HTTPS to the VPC endpoints only",
            vpc_id=props.vpc_id,
            tags={"Name": name},
            # Lambda releases a VPC function's network interfaces up to 45 minutes after it is
            # deleted; until then the group cannot be deleted.
            timeouts=SecurityGroupTimeouts(delete="45m"),
        )
        VpcSecurityGroupEgressRule(
            self,
            "egress-endpoints",
            security_group_id=sg.id,
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            referenced_security_group_id=props.endpoint_security_group_id,
            description="HTTPS to the VPC interface endpoints",
        )
        self.security_group_id: str = sg.id

        if props.code_path is not None:
            asset = TerraformAsset(self, "package", path=props.code_path, type=AssetType.FILE)
            package = {"filename": asset.path}
        else:
            package = {
                "s3_bucket": props.s3_bucket,
                "s3_key": props.s3_key,
                "s3_object_version": props.s3_object_version,
            }
        function = LambdaFunctionResource(
            self,
            "function",
            function_name=name,
            description=props.description,
            role=role.arn,
            runtime=props.runtime,
            architectures=[props.architecture],
            handler=props.handler,
            **package,
            source_code_hash=props.source_code_hash,
            code_signing_config_arn=props.code_signing_config_arn,
            memory_size=props.memory_mb,
            timeout=props.timeout_seconds,
            reserved_concurrent_executions=props.reserved_concurrency,
            environment=LambdaFunctionEnvironment(variables=dict(sorted(props.environment.items())))
            if props.environment
            else None,
            kms_key_arn=props.environment_kms_key_arn,
            tracing_config=LambdaFunctionTracingConfig(mode=props.tracing_mode),
            vpc_config=LambdaFunctionVpcConfig(
                subnet_ids=list(props.subnet_ids), security_group_ids=[sg.id]
            ),
            tags={"Name": name},
            # The log group first (or Lambda creates one without key and retention), and the
            # role's permissions before the first invocation needs them.
            depends_on=[log_group, policy],
        )
        self.function_arn: str = function.arn

        if props.configures_async_invocation:
            destination = (
                LambdaFunctionEventInvokeConfigDestinationConfig(
                    on_failure=LambdaFunctionEventInvokeConfigDestinationConfigOnFailure(
                        destination=props.on_failure_destination_arn
                    )
                )
                if props.on_failure_destination_arn is not None
                else None
            )
            # Through the function's name reference it waits for the function, and so for the
            # role policy: Lambda checks that the role may send to the destination.
            LambdaFunctionEventInvokeConfig(
                self,
                "async-invocation",
                function_name=function.function_name,
                maximum_retry_attempts=props.maximum_retry_attempts,
                maximum_event_age_in_seconds=props.maximum_event_age_in_seconds,
                destination_config=destination,
            )
