"""The LambdaFunction construct on a bare stack: a Python function in the VPC with its own role,
log group, security group, tracing and encrypted environment."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from modules.aws_target import AwsTarget
from modules.lambda_function import VPC_ACCESS_ACTIONS, LambdaFunctionProps
from modules.policy import Statement
from modules.props import PropsError
from tests.infra.conftest import synth_construct
from tests.infra.helpers import one, policy, ref

TARGET = AwsTarget(account_id="111122223333", region="eu-west-1")
LOGS_KEY = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OWN = Statement(sid="Own", actions=["s3:GetObject"], resources=["arn:aws:s3:::b/k"])


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    path = tmp_path_factory.mktemp("package") / "fn.zip"
    path.write_bytes(b"PK\x05\x06" + b"\0" * 18)  # an empty zip
    return path


def _props(package, **overrides) -> LambdaFunctionProps:
    return replace(
        LambdaFunctionProps(
            function_name="app-test-fn",
            target=TARGET,
            description="test",
            code_path=str(package),
            source_code_hash="c2hhMjU2",
            handler="pkg.handler.handler",
            vpc_id="vpc-1",
            subnet_ids=("subnet-a", "subnet-b"),
            endpoint_security_group_id="sg-endpoints",
            log_kms_key_arn=LOGS_KEY,
            log_retention_days=30,
            environment_kms_key_arn=LOGS_KEY,
            statements=(OWN,),
            environment={"B_SETTING": "2", "A_SETTING": "1"},
        ),
        **overrides,
    )


@pytest.fixture(scope="module")
def built(package):
    from modules.lambda_function import LambdaFunction

    return synth_construct(lambda stack: LambdaFunction(stack, "fn", _props(package)))


def test_function_is_arm64_python_traced_in_the_vpc_with_reserved_concurrency_one(built):
    _, doc = built
    fn = one(doc.resources("aws_lambda_function"))
    (sg,) = doc.resources("aws_security_group")

    assert fn["architectures"] == ["arm64"] and fn["runtime"] == "python3.13"
    assert fn["tracing_config"] == {"mode": "Active"}
    assert fn["reserved_concurrent_executions"] == 1
    assert fn["vpc_config"] == {
        "subnet_ids": ["subnet-a", "subnet-b"],
        "security_group_ids": [ref("aws_security_group", sg)],
    }
    assert (fn["memory_size"], fn["timeout"]) == (256, 30)


def test_code_comes_from_the_package_asset_with_its_hash(built):
    fn = one(built[1].resources("aws_lambda_function"))
    assert fn["filename"].startswith("assets/") and fn["filename"].endswith("fn.zip")
    assert fn["source_code_hash"] == "c2hhMjU2"


def test_environment_is_sorted_and_encrypted_with_the_given_key(built):
    fn = one(built[1].resources("aws_lambda_function"))
    assert list(fn["environment"]["variables"]) == ["A_SETTING", "B_SETTING"]
    assert fn["kms_key_arn"] == LOGS_KEY


def test_log_group_is_created_first_encrypted_with_retention(built):
    _, doc = built
    fn = one(doc.resources("aws_lambda_function"))
    (group_key,) = doc.resources("aws_cloudwatch_log_group")
    group = one(doc.resources("aws_cloudwatch_log_group"))
    (policy_key,) = doc.resources("aws_iam_role_policy")

    assert group["name"] == "/aws/lambda/app-test-fn"
    assert (group["kms_key_id"], group["retention_in_days"]) == (LOGS_KEY, 30)
    assert sorted(fn["depends_on"]) == sorted(
        [f"aws_cloudwatch_log_group.{group_key}", f"aws_iam_role_policy.{policy_key}"]
    )


def test_security_group_allows_only_https_to_the_endpoints(built):
    _, doc = built
    egress = one(doc.resources("aws_vpc_security_group_egress_rule"))
    sg = one(doc.resources("aws_security_group"))

    assert (egress["from_port"], egress["to_port"], egress["ip_protocol"]) == (443, 443, "tcp")
    assert egress["referenced_security_group_id"] == "sg-endpoints"
    assert "cidr_ipv4" not in egress
    assert "egress" not in sg and "ingress" not in sg
    assert doc.resources("aws_vpc_security_group_ingress_rule") == {}


def test_role_is_trusted_by_lambda_of_this_account_only(built):
    construct, doc = built
    role = one(doc.resources("aws_iam_role"))
    (statement,) = json.loads(role["assume_role_policy"])["Statement"]

    assert statement["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "111122223333"}}
    assert construct.role_arn == "arn:aws:iam::111122223333:role/app-test-fn"


def test_role_has_own_logs_xray_eni_env_key_and_its_own_statements_only(built):
    statements = {s["Sid"]: s for s in policy(one(built[1].resources("aws_iam_role_policy")))["Statement"]}  # fmt: skip

    assert set(statements) == {"WritesItsOwnLogs", "SendsTraces", "ManagesItsNetworkInterfaces", "DecryptsItsEnvironment", "Own"}  # fmt: skip
    assert statements["WritesItsOwnLogs"]["Resource"] == "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/lambda/app-test-fn:log-stream:*"  # fmt: skip
    assert statements["DecryptsItsEnvironment"]["Resource"] == LOGS_KEY
    # "*" only where AWS has nothing narrower: X-Ray and the VPC network interfaces.
    wildcard = {sid for sid, s in statements.items() if s.get("Resource") == "*"}
    assert wildcard == {"SendsTraces", "ManagesItsNetworkInterfaces"}
    assert statements["ManagesItsNetworkInterfaces"]["Action"] == list(VPC_ACCESS_ACTIONS)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"function_name": "bad name"}, "LambdaFunctionProps.function_name"),
        ({"runtime": "python3.9"}, "LambdaFunctionProps.runtime"),
        ({"architecture": "sparc"}, "LambdaFunctionProps.architecture"),
        ({"memory_mb": 64}, "LambdaFunctionProps.memory_mb"),
        ({"timeout_seconds": 901}, "LambdaFunctionProps.timeout_seconds"),
        ({"reserved_concurrency": 0}, "LambdaFunctionProps.reserved_concurrency"),
        ({"log_retention_days": 45}, "LambdaFunctionProps.log_retention_days"),
        ({"subnet_ids": ()}, "LambdaFunctionProps.subnet_ids"),
        ({"environment": {"AWS_REGION": "x"}}, "LambdaFunctionProps.environment"),
        ({"log_kms_key_arn": "alias/logs"}, "LambdaFunctionProps.log_kms_key_arn"),
    ],
)
def test_bad_props_fail_with_the_field_named(package, overrides, field):
    with pytest.raises(PropsError, match=f"^{field}: "):
        _props(package, **overrides)


# ---- tracing mode, S3 package, code signing, asynchronous invocation ----

QUEUE = "arn:aws:sqs:eu-west-1:111122223333:app-test-fn-failures"
QUEUE_KEY = "arn:aws:kms:eu-west-1:111122223333:key/9999abcd-12ab-34cd-56ef-1234567890ab"
SIGNING = "arn:aws:lambda:eu-west-1:111122223333:code-signing-config:csc-0123456789abcdef0"


def _s3_package(**overrides):
    return {
        "code_path": None,
        "source_code_hash": None,
        "s3_bucket": "app-artifacts",
        "s3_key": "signed/0123.zip",
        "s3_object_version": "3sL4kqtJlcpXroDTDmJ",
        **overrides,
    }


@pytest.fixture(scope="module")
def variants(package):
    """The function with each new prop set, one bare stack per variant."""
    from modules.lambda_function import LambdaFunction

    props = {
        "pass_through": _props(package, tracing_mode="PassThrough"),
        "signed_s3": _props(package, **_s3_package(), code_signing_config_arn=SIGNING),
        "on_failure": _props(
            package,
            on_failure_destination_arn=QUEUE,
            on_failure_destination_kms_key_arn=QUEUE_KEY,
            maximum_retry_attempts=1,
            maximum_event_age_in_seconds=3600,
        ),
        "on_failure_unencrypted": _props(package, on_failure_destination_arn=QUEUE),
        "no_retries": _props(package, maximum_retry_attempts=0),
    }
    return {
        name: synth_construct(lambda stack, p=p: LambdaFunction(stack, "fn", p), name=name)[1]
        for name, p in props.items()
    }


def _statements(doc):
    return {s["Sid"]: s for s in policy(one(doc.resources("aws_iam_role_policy")))["Statement"]}


def test_defaults_add_no_async_config_signing_or_queue_permission(built):
    doc = built[1]
    fn = one(doc.resources("aws_lambda_function"))

    assert set(doc.json["resource"]) == {
        "aws_cloudwatch_log_group", "aws_iam_role", "aws_iam_role_policy", "aws_lambda_function",
        "aws_security_group", "aws_vpc_security_group_egress_rule",
    }  # fmt: skip
    assert "code_signing_config_arn" not in fn
    assert not {"s3_bucket", "s3_key", "s3_object_version"} & set(fn)
    assert not any(
        a.startswith(("sqs:", "kms:GenerateDataKey"))
        for s in _statements(doc).values()
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    )


def test_pass_through_tracing_keeps_the_xray_write_permissions(variants):
    doc = variants["pass_through"]
    statement = _statements(doc)["SendsTraces"]

    assert one(doc.resources("aws_lambda_function"))["tracing_config"] == {"mode": "PassThrough"}
    assert statement["Action"] == ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    assert statement["Resource"] == "*"


def test_s3_package_is_deployed_from_the_object_with_the_code_signing_config(variants):
    doc = variants["signed_s3"]
    fn = one(doc.resources("aws_lambda_function"))

    assert (fn["s3_bucket"], fn["s3_key"], fn["s3_object_version"]) == (
        "app-artifacts",
        "signed/0123.zip",
        "3sL4kqtJlcpXroDTDmJ",
    )
    assert fn["code_signing_config_arn"] == SIGNING
    assert "filename" not in fn and "source_code_hash" not in fn
    # No local asset is shipped with the stack.
    assert "assets" not in json.dumps(doc.json)


def test_on_failure_destination_gets_the_async_config_with_retries_and_age(variants):
    doc = variants["on_failure"]
    (fn_key,) = doc.resources("aws_lambda_function")
    config = one(doc.resources("aws_lambda_function_event_invoke_config"))

    assert config["function_name"] == ref("aws_lambda_function", fn_key, "function_name")
    assert config["destination_config"] == {"on_failure": {"destination": QUEUE}}
    assert (config["maximum_retry_attempts"], config["maximum_event_age_in_seconds"]) == (1, 3600)
    assert "qualifier" not in config


def test_role_sends_to_exactly_the_failure_queue_and_uses_its_key_through_sqs(variants):
    statements = _statements(variants["on_failure"])

    assert statements["SendsFailedInvocationsToItsQueue"] == {
        "Sid": "SendsFailedInvocationsToItsQueue",
        "Effect": "Allow",
        "Action": "sqs:SendMessage",
        "Resource": QUEUE,
    }
    assert statements["EncryptsFailedInvocationRecords"] == {
        "Sid": "EncryptsFailedInvocationRecords",
        "Effect": "Allow",
        "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
        "Resource": QUEUE_KEY,
        "Condition": {"StringEquals": {"kms:ViaService": "sqs.eu-west-1.amazonaws.com"}},
    }
    wildcard = {sid for sid, s in statements.items() if s.get("Resource") == "*"}
    assert wildcard == {"SendsTraces", "ManagesItsNetworkInterfaces"}


def test_async_defaults_are_lambdas_and_an_unencrypted_queue_needs_no_key(variants):
    doc = variants["on_failure_unencrypted"]
    config = one(doc.resources("aws_lambda_function_event_invoke_config"))
    statements = _statements(doc)

    assert (config["maximum_retry_attempts"], config["maximum_event_age_in_seconds"]) == (2, 21600)
    assert "SendsFailedInvocationsToItsQueue" in statements
    assert "EncryptsFailedInvocationRecords" not in statements


def test_retries_other_than_lambdas_default_configure_async_invocation_without_destination(
    variants,
):
    doc = variants["no_retries"]
    config = one(doc.resources("aws_lambda_function_event_invoke_config"))

    assert config["maximum_retry_attempts"] == 0
    assert "destination_config" not in config
    assert "SendsFailedInvocationsToItsQueue" not in _statements(doc)


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"tracing_mode": "Sampled"}, "tracing_mode", "must be one of Active, PassThrough"),
        ({"s3_bucket": "app-artifacts", "s3_key": "k.zip"}, "code_path", "exactly one of"),
        ({"code_path": None}, "code_path", "exactly one of"),
        ({"source_code_hash": None}, "source_code_hash", "is required with code_path"),
        ({"source_code_hash": ""}, "source_code_hash", "is required with code_path"),
        ({"s3_key": "k.zip"}, "s3_key", "is only valid with s3_bucket"),
        ({"s3_object_version": "v1"}, "s3_object_version", "is only valid with s3_bucket"),
        (_s3_package(s3_bucket="Not_A_Bucket"), "s3_bucket", "is not an S3 bucket name"),
        (_s3_package(s3_key=None), "s3_key", "is required with s3_bucket"),
        (_s3_package(s3_key="/signed/x.zip"), "s3_key", "without a leading /"),
        (_s3_package(s3_object_version=""), "s3_object_version", "must not be empty"),
        (
            {"code_signing_config_arn": "csc-0123"},
            "code_signing_config_arn",
            "is not an lambda ARN",
        ),
        (
            {"code_signing_config_arn": "arn:aws:lambda:eu-west-1:111122223333:function:f"},
            "code_signing_config_arn",
            "code-signing-config:",
        ),
        ({"maximum_retry_attempts": 3}, "maximum_retry_attempts", "is outside 0..2"),
        ({"maximum_retry_attempts": -1}, "maximum_retry_attempts", "is outside 0..2"),
        ({"maximum_event_age_in_seconds": 59}, "maximum_event_age_in_seconds", "60..21600"),
        ({"maximum_event_age_in_seconds": 21601}, "maximum_event_age_in_seconds", "60..21600"),
        (
            {"on_failure_destination_arn": "arn:aws:sns:eu-west-1:111122223333:topic"},
            "on_failure_destination_arn",
            "is not an sqs ARN",
        ),
        (
            {"on_failure_destination_kms_key_arn": QUEUE_KEY},
            "on_failure_destination_kms_key_arn",
            "is only valid with on_failure_destination_arn",
        ),
        (
            {"on_failure_destination_arn": QUEUE, "on_failure_destination_kms_key_arn": "alias/q"},
            "on_failure_destination_kms_key_arn",
            "is not an kms ARN",
        ),
    ],
)
def test_bad_new_props_fail_with_the_field_and_reason(package, overrides, field, reason):
    with pytest.raises(PropsError, match=f"^LambdaFunctionProps.{field}: ") as error:
        _props(package, **overrides)
    assert reason in str(error.value)


def test_a_reference_passes_as_bucket_queue_and_signing_config(package):
    def build(stack):
        from cdktf_cdktf_provider_aws.sqs_queue import SqsQueue

        from modules.lambda_function import LambdaFunction

        queue = SqsQueue(stack, "queue", name="q")
        return LambdaFunction(
            stack,
            "fn",
            _props(
                package,
                **_s3_package(s3_bucket=queue.name, s3_object_version=None),
                on_failure_destination_arn=queue.arn,
                code_signing_config_arn=queue.arn,
            ),
        )

    doc = synth_construct(build, name="references")[1]
    (queue_key,) = doc.resources("aws_sqs_queue")
    fn = one(doc.resources("aws_lambda_function"))
    assert fn["s3_bucket"] == ref("aws_sqs_queue", queue_key, "name")
    assert "s3_object_version" not in fn
    assert one(doc.resources("aws_lambda_function_event_invoke_config"))["destination_config"] == {
        "on_failure": {"destination": ref("aws_sqs_queue", queue_key, "arn")}
    }
