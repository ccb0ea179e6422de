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
