"""The FargateService construct on a bare stack: a hardened Fargate task, its two roles, its log
group, its security group, a rolling service that rolls back and that apply waits for, and
target-tracking autoscaling; and every bad prop refused with the field named."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
from dataclasses import replace

import pytest

from modules.aws_target import AwsTarget
from modules.fargate_service import (
    FARGATE_SIZES,
    EgressRule,
    FargateServiceProps,
    health_check_command,
    image_is_pinned,
    looks_like_secret,
    secret_policy_arn,
)
from modules.lambda_function import LOG_RETENTION_DAYS
from modules.policy import Statement
from modules.props import PropsError
from tests.infra.conftest import synth_construct
from tests.infra.helpers import one, policy, ref

TARGET = AwsTarget(account_id="111122223333", region="eu-west-1")
KEY = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SECRETS_KEY = "arn:aws:kms:eu-west-1:111122223333:key/abcd1234-12ab-34cd-56ef-1234567890ab"
DIGEST = "sha256:" + "0123456789abcdef" * 4
IMAGE = f"111122223333.dkr.ecr.eu-west-1.amazonaws.com/checkins-prod-auth@{DIGEST}"
XRAY_IMAGE = f"public.ecr.aws/xray/aws-xray-daemon@sha256:{'f' * 64}"
REPOSITORY = "arn:aws:ecr:eu-west-1:111122223333:repository/checkins-prod-auth"
TARGET_GROUP = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/checkins-prod-auth/0123456789abcdef"
LABEL = "app/checkins-prod/50dc6c495c0c9188/targetgroup/checkins-prod-auth/0123456789abcdef"
DB_SECRET = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:rds!db-1234-AbCdEf"
CURSOR_SECRET = (
    "arn:aws:secretsmanager:eu-west-1:111122223333:secret:checkins-prod/app/cursor-XyZ123"
)
ENDPOINTS = EgressRule("HTTPS to the VPC endpoints", 443, security_group_id="sg-0aaaaaaaaaaaaaaaa")
S3 = EgressRule("HTTPS to S3 gateway endpoint", 443, prefix_list_id="pl-6da54004")
DATABASE = EgressRule("PostgreSQL to the VPC", 5432, cidr_ipv4="10.0.0.0/16")
OWN = Statement(
    sid="ReadsItsTable",
    actions=["cassandra:Select"],
    resources=["arn:aws:cassandra:eu-west-1:111122223333:/keyspace/k/table/t"],
)


def _props(**overrides) -> FargateServiceProps:
    return replace(
        FargateServiceProps(
            name="checkins-prod-auth",
            target=TARGET,
            cluster_arn="arn:aws:ecs:eu-west-1:111122223333:cluster/checkins-prod",
            cluster_name="checkins-prod",
            vpc_id="vpc-1",
            subnet_ids=("subnet-a", "subnet-b"),
            image=IMAGE,
            repository_arn=REPOSITORY,
            load_balancer_security_group_id="sg-0bbbbbbbbbbbbbbbb",
            target_group_arn=TARGET_GROUP,
            request_count_resource_label=LABEL,
            egress=(ENDPOINTS,),
            log_group_name="/ecs/checkins-prod/auth",
            log_kms_key_arn=KEY,
            log_retention_days=30,
        ),
        **overrides,
    )


ATTRIBUTES = (
    "service_name",
    "security_group_id",
    "task_role_arn",
    "task_role_name",
    "execution_role_arn",
    "log_group_name",
    "task_definition_arn",
)


def _full(stack):
    """Every option on, the image and one secret given as Terraform variables."""
    from cdktf import TerraformOutput, TerraformVariable
    from cdktf_cdktf_provider_aws.security_group import SecurityGroup

    from modules.fargate_service import FargateService

    image = TerraformVariable(stack, "image", type="string")
    signing = TerraformVariable(stack, "signing_secret_arn", type="string")
    props = _props(
        image=image.string_value,
        environment={"B_SETTING": "2", "A_SETTING": "1", "SIGNING_KEYS_SECRET_ARN": "arn"},
        secrets={
            "DB_PASSWORD": f"{DB_SECRET}:password::",
            "DB_USER": f"{DB_SECRET}:username::",
            "CURSOR_KEYS": CURSOR_SECRET,
            "SIGNING_KEYS": f"{signing.string_value}:keys::",
        },
        secrets_kms_key_arn=SECRETS_KEY,
        task_statements=(OWN,),
        extra_security_group_ids=("sg-0cccccccccccccccc",),
        egress=(ENDPOINTS, S3, DATABASE),
        container_name="auth",
        container_port=8001,
        cpu=1024,
        memory=3072,
        cpu_architecture="X86_64",
        user="20002",
        writable_tmp=True,
        desired_count=3,
        min_count=2,
        max_count=6,
        cpu_target_percent=70,
        requests_per_target=800,
        health_check_grace_period_seconds=90,
        stop_timeout_seconds=45,
        xray_sidecar=True,
        xray_image=XRAY_IMAGE,
    )
    service = FargateService(stack, "auth", props)
    rule = SecurityGroup(stack, "listener-rule-stand-in", name="x", vpc_id="vpc-1")
    service.wait_for(rule)
    for name in ATTRIBUTES:
        TerraformOutput(stack, name, value=getattr(service, name))
    return service


@pytest.fixture(scope="module")
def built():
    from modules.fargate_service import FargateService

    return {
        "default": synth_construct(lambda stack: FargateService(stack, "auth", _props())),
        "full": synth_construct(_full),
    }


@pytest.fixture(scope="module")
def token():
    """A string cdktf resolves later (a Terraform variable reference)."""
    from cdktf import TerraformStack, TerraformVariable, Testing

    stack = TerraformStack(Testing.app(), "tokens")
    return TerraformVariable(stack, "value", type="string").string_value


def _task(doc):
    return one(doc.resources("aws_ecs_task_definition"))


def _containers(doc):
    return json.loads(_task(doc)["container_definitions"])


def _service(doc):
    return one(doc.resources("aws_ecs_service"))


def _role(doc, name):
    (body,) = [r for r in doc.resources("aws_iam_role").values() if r["name"] == name]
    return body


def _statements(doc, name):
    (body,) = [p for p in doc.resources("aws_iam_role_policy").values() if p["name"] == name]
    return {s["Sid"]: s for s in policy(body)["Statement"]}


def _key(doc, resource_type, name):
    (key,) = [k for k, b in doc.resources(resource_type).items() if b.get("name") == name]
    return key


# ---- task definition ------------------------------------------------------------------------


def test_task_is_fargate_awsvpc_linux_arm64_by_default(built):
    task = _task(built["default"][1])
    assert task["requires_compatibilities"] == ["FARGATE"]
    assert task["network_mode"] == "awsvpc"
    assert task["runtime_platform"] == {
        "operating_system_family": "LINUX",
        "cpu_architecture": "ARM64",
    }
    assert (task["cpu"], task["memory"], task["family"]) == ("256", "512", "checkins-prod-auth")


def test_architecture_and_size_come_from_props(built):
    task = _task(built["full"][1])
    assert task["runtime_platform"]["cpu_architecture"] == "X86_64"
    assert (task["cpu"], task["memory"]) == ("1024", "3072")


def test_task_definition_is_replaced_before_the_old_revision_goes(built):
    assert _task(built["default"][1])["lifecycle"] == {"create_before_destroy": True}


def test_task_definition_uses_the_two_roles_it_creates(built):
    _, doc = built["default"]
    task = _task(doc)
    execution = _key(doc, "aws_iam_role", "checkins-prod-auth-execution")
    task_role = _key(doc, "aws_iam_role", "checkins-prod-auth-task")
    assert task["execution_role_arn"] == ref("aws_iam_role", execution, "arn")
    assert task["task_role_arn"] == ref("aws_iam_role", task_role, "arn")


def test_pinned_image_is_used_as_given(built):
    assert _containers(built["default"][1])[0]["image"] == IMAGE
    assert _containers(built["full"][1])[0]["image"] == "${var.image}"


def test_every_container_runs_unprivileged_as_a_non_root_user_on_a_read_only_root(built):
    for variant, user in (("default", "10001:10001"), ("full", "20002")):
        containers = _containers(built[variant][1])
        assert containers, variant
        for container in containers:
            assert container["user"] == user
            assert container["readonlyRootFilesystem"] is True
            assert container["privileged"] is False
            assert container["linuxParameters"] == {"capabilities": {"drop": ["ALL"]}}


def test_nothing_is_writable_unless_writable_tmp(built):
    default, full = built["default"][1], built["full"][1]
    assert "volume" not in _task(default)
    assert "mountPoints" not in _containers(default)[0]
    assert _task(full)["volume"] == [{"name": "tmp"}]
    assert _containers(full)[0]["mountPoints"] == [
        {"sourceVolume": "tmp", "containerPath": "/tmp", "readOnly": False}
    ]


def test_container_listens_on_its_port_only(built):
    assert _containers(built["default"][1])[0]["portMappings"] == [
        {"containerPort": 8000, "hostPort": 8000, "protocol": "tcp"}
    ]
    assert _containers(built["full"][1])[0]["portMappings"] == [
        {"containerPort": 8001, "hostPort": 8001, "protocol": "tcp"}
    ]


def test_environment_is_sorted_and_secrets_come_from_secrets_manager(built):
    app = _containers(built["full"][1])[0]
    assert app["environment"] == [
        {"name": "A_SETTING", "value": "1"},
        {"name": "B_SETTING", "value": "2"},
        {"name": "SIGNING_KEYS_SECRET_ARN", "value": "arn"},
    ]
    assert app["secrets"] == [
        {"name": "CURSOR_KEYS", "valueFrom": CURSOR_SECRET},
        {"name": "DB_PASSWORD", "valueFrom": f"{DB_SECRET}:password::"},
        {"name": "DB_USER", "valueFrom": f"{DB_SECRET}:username::"},
        {"name": "SIGNING_KEYS", "valueFrom": "${var.signing_secret_arn}:keys::"},
    ]
    default = _containers(built["default"][1])[0]
    assert "environment" not in default and "secrets" not in default


def test_container_definition_property_is_the_rendered_main_container(built):
    construct, doc = built["full"]
    rendered = _containers(doc)[0]
    exposed = construct.container_definition
    assert exposed["name"] == rendered["name"] == "auth"
    assert [e["name"] for e in exposed["environment"]] == [
        e["name"] for e in rendered["environment"]
    ]
    assert [s["name"] for s in exposed["secrets"]] == [
        "CURSOR_KEYS",
        "DB_PASSWORD",
        "DB_USER",
        "SIGNING_KEYS",
    ]
    # A copy: changing it changes nothing in the construct.
    exposed["environment"].clear()
    assert construct.container_definition["environment"]


def test_logs_go_to_its_own_group_without_blocking_the_application(built):
    for variant in built.values():
        for container in _containers(variant[1]):
            assert container["logConfiguration"] == {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": "/ecs/checkins-prod/auth",
                    "awslogs-region": "eu-west-1",
                    "awslogs-stream-prefix": "ecs",
                    "mode": "non-blocking",
                    "max-buffer-size": "25m",
                },
            }


def test_log_group_is_encrypted_with_its_retention_and_created_before_the_service(built):
    _, doc = built["default"]
    (group_key,) = doc.resources("aws_cloudwatch_log_group")
    group = one(doc.resources("aws_cloudwatch_log_group"))
    assert group["name"] == "/ecs/checkins-prod/auth"
    assert (group["kms_key_id"], group["retention_in_days"]) == (KEY, 30)
    assert f"aws_cloudwatch_log_group.{group_key}" in _service(doc)["depends_on"]


def test_health_check_calls_health_with_python_on_the_app_port(built):
    for variant, port in (("default", 8000), ("full", 8001)):
        check = _containers(built[variant][1])[0]["healthCheck"]
        assert check["command"] == health_check_command(port)
        assert check["command"][0] == "CMD-SHELL"
        assert f"http://127.0.0.1:{port}/health" in check["command"][1]
        assert check["command"][1].startswith("python -c ")
        assert (check["interval"], check["timeout"], check["retries"]) == (15, 5, 3)
        assert check["startPeriod"] == 30


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):
        self.send_response(self.status if self.path == "/health" else 404)
        self.end_headers()

    def log_message(self, *args):
        pass


def _run_check(port: int) -> int:
    command = health_check_command(port)[1]
    # The image's `python`; here the interpreter running the tests.
    command = command.replace("python -c ", f"{sys.executable} -c ", 1)
    return subprocess.run(["/bin/sh", "-c", command], timeout=30).returncode


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (500, False), (503, False)])
def test_health_check_command_passes_on_2xx_only(status, healthy):
    handler = type("Handler", (_Health,), {"status": status})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert (_run_check(server.server_address[1]) == 0) is healthy
    finally:
        server.shutdown()
        server.server_close()


def test_health_check_command_fails_when_nothing_listens():
    server = http.server.HTTPServer(("127.0.0.1", 0), _Health)
    port = server.server_address[1]
    server.server_close()
    assert _run_check(port) != 0


def test_stop_timeout_gives_the_application_time_to_drain(built):
    assert _containers(built["default"][1])[0]["stopTimeout"] == 30
    assert _containers(built["full"][1])[0]["stopTimeout"] == 45


def test_no_xray_sidecar_unless_asked_for(built):
    assert [c["name"] for c in _containers(built["default"][1])] == ["app"]


def test_xray_sidecar_is_pinned_and_not_essential(built):
    app, sidecar = _containers(built["full"][1])
    assert app["essential"] is True
    assert sidecar["name"] == "xray-daemon"
    assert sidecar["image"] == XRAY_IMAGE
    assert sidecar["essential"] is False
    assert sidecar["environment"] == [{"name": "AWS_REGION", "value": "eu-west-1"}]
    assert "portMappings" not in sidecar


# ---- roles ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["checkins-prod-auth-execution", "checkins-prod-auth-task"])
def test_roles_trust_ecs_tasks_of_this_account_and_region_only(built, role):
    (statement,) = json.loads(_role(built["default"][1], role)["assume_role_policy"])["Statement"]
    assert statement["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "111122223333"},
        "ArnLike": {"aws:SourceArn": "arn:aws:ecs:eu-west-1:111122223333:*"},
    }


def test_execution_role_pulls_from_its_repository_and_writes_its_logs_only(built):
    statements = _statements(built["default"][1], "checkins-prod-auth-execution")
    assert set(statements) == {"PullsItsImage", "GetsRegistryToken", "WritesItsLogs"}
    assert statements["PullsItsImage"]["Action"] == [
        "ecr:BatchCheckLayerAvailability",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
    ]
    assert statements["PullsItsImage"]["Resource"] == REPOSITORY
    assert statements["WritesItsLogs"]["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert (
        statements["WritesItsLogs"]["Resource"]
        == "arn:aws:logs:eu-west-1:111122223333:log-group:/ecs/checkins-prod/auth:*"
    )


def test_only_the_registry_token_is_granted_on_every_resource(built):
    for variant in built.values():
        statements = _statements(variant[1], "checkins-prod-auth-execution")
        wildcard = {sid for sid, s in statements.items() if s["Resource"] == "*"}
        assert wildcard == {"GetsRegistryToken"}
        assert statements["GetsRegistryToken"]["Action"] == "ecr:GetAuthorizationToken"


def test_execution_role_reads_exactly_the_given_secrets_and_decrypts_through_secrets_manager(built):
    statements = _statements(built["full"][1], "checkins-prod-auth-execution")
    read, decrypt = statements["ReadsItsSecrets"], statements["DecryptsItsSecrets"]

    assert read["Action"] == "secretsmanager:GetSecretValue"
    # JSON keys dropped, each secret once, in the order of the names that use it.
    assert read["Resource"] == [CURSOR_SECRET, DB_SECRET, "${var.signing_secret_arn}"]
    assert decrypt["Action"] == "kms:Decrypt"
    assert decrypt["Resource"] == SECRETS_KEY
    assert decrypt["Condition"] == {
        "StringEquals": {"kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com"}
    }


def test_no_secret_permissions_without_secrets(built):
    statements = _statements(built["default"][1], "checkins-prod-auth-execution")
    assert not [
        s
        for s in statements.values()
        if "secretsmanager" in json.dumps(s) or "kms:" in json.dumps(s)
    ]


def test_task_role_has_no_policy_when_given_nothing(built):
    _, doc = built["default"]
    names = [p["name"] for p in doc.resources("aws_iam_role_policy").values()]
    assert names == ["checkins-prod-auth-execution"]


def test_task_role_has_its_statements_and_xray_on_star_for_the_sidecar(built):
    statements = _statements(built["full"][1], "checkins-prod-auth-task")
    assert set(statements) == {"ReadsItsTable", "SendsTraces"}
    assert statements["ReadsItsTable"] == OWN.render()
    assert statements["SendsTraces"]["Action"] == [
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
    ]
    assert statements["SendsTraces"]["Resource"] == "*"


def test_role_attributes_are_literal_arns_of_the_roles(built):
    construct, doc = built["default"]
    assert construct.task_role_name == "checkins-prod-auth-task"
    assert construct.task_role_arn == "arn:aws:iam::111122223333:role/checkins-prod-auth-task"
    assert (
        construct.execution_role_arn
        == "arn:aws:iam::111122223333:role/checkins-prod-auth-execution"
    )
    assert {r["name"] for r in doc.resources("aws_iam_role").values()} == {
        "checkins-prod-auth-task",
        "checkins-prod-auth-execution",
    }


# ---- network --------------------------------------------------------------------------------


def test_security_group_admits_only_the_load_balancer_on_the_container_port(built):
    for variant, port in (("default", 8000), ("full", 8001)):
        _, doc = built[variant]
        sg_key = _key(doc, "aws_security_group", "checkins-prod-auth-tasks")
        (ingress,) = doc.resources("aws_vpc_security_group_ingress_rule").values()
        assert ingress["security_group_id"] == ref("aws_security_group", sg_key)
        assert ingress["referenced_security_group_id"] == "sg-0bbbbbbbbbbbbbbbb"
        assert (ingress["from_port"], ingress["to_port"], ingress["ip_protocol"]) == (
            port,
            port,
            "tcp",
        )
        assert "cidr_ipv4" not in ingress
        sg = doc.resources("aws_security_group")[sg_key]
        assert "ingress" not in sg and "egress" not in sg


def test_egress_is_exactly_the_given_rules(built):
    def rules(doc):
        return sorted(
            (
                r["description"],
                r["from_port"],
                r["to_port"],
                r["ip_protocol"],
                r.get("referenced_security_group_id"),
                r.get("prefix_list_id"),
                r.get("cidr_ipv4"),
            )
            for r in doc.resources("aws_vpc_security_group_egress_rule").values()
        )

    assert rules(built["default"][1]) == [
        ("HTTPS to the VPC endpoints", 443, 443, "tcp", "sg-0aaaaaaaaaaaaaaaa", None, None)
    ]
    assert rules(built["full"][1]) == [
        ("HTTPS to S3 gateway endpoint", 443, 443, "tcp", None, "pl-6da54004", None),
        ("HTTPS to the VPC endpoints", 443, 443, "tcp", "sg-0aaaaaaaaaaaaaaaa", None, None),
        ("PostgreSQL to the VPC", 5432, 5432, "tcp", None, None, "10.0.0.0/16"),
    ]
    for variant in built.values():
        for rule in variant[1].resources("aws_vpc_security_group_egress_rule").values():
            assert rule.get("cidr_ipv4") != "0.0.0.0/0"


# ---- service --------------------------------------------------------------------------------


def test_service_runs_on_fargate_in_private_subnets_without_public_ip(built):
    _, doc = built["full"]
    service = _service(doc)
    sg_key = _key(doc, "aws_security_group", "checkins-prod-auth-tasks")

    assert service["capacity_provider_strategy"] == [
        {"capacity_provider": "FARGATE", "weight": 1, "base": 0}
    ]
    assert "launch_type" not in service
    assert service["network_configuration"] == {
        "subnets": ["subnet-a", "subnet-b"],
        "security_groups": [ref("aws_security_group", sg_key), "sg-0cccccccccccccccc"],
        "assign_public_ip": False,
    }
    assert service["cluster"] == "arn:aws:ecs:eu-west-1:111122223333:cluster/checkins-prod"
    assert service["name"] == "checkins-prod-auth"


def test_service_runs_the_task_definition_it_creates(built):
    _, doc = built["default"]
    (task_key,) = doc.resources("aws_ecs_task_definition")
    assert _service(doc)["task_definition"] == ref("aws_ecs_task_definition", task_key, "arn")


def test_deployments_roll_back_by_themselves_and_apply_waits_for_them(built):
    service = _service(built["default"][1])
    assert service["deployment_controller"] == {"type": "ECS"}
    assert service["deployment_circuit_breaker"] == {"enable": True, "rollback": True}
    assert service["wait_for_steady_state"] is True
    assert (
        service["deployment_minimum_healthy_percent"],
        service["deployment_maximum_percent"],
    ) == (100, 200)


def test_ecs_exec_is_off_and_tags_propagate_from_the_service(built):
    service = _service(built["default"][1])
    assert service["enable_execute_command"] is False
    assert service["propagate_tags"] == "SERVICE"
    assert service["enable_ecs_managed_tags"] is True


def test_service_registers_the_container_in_the_target_group(built):
    assert _service(built["default"][1])["load_balancer"] == [
        {"target_group_arn": TARGET_GROUP, "container_name": "app", "container_port": 8000}
    ]
    assert _service(built["full"][1])["load_balancer"][0]["container_name"] == "auth"
    assert _service(built["full"][1])["load_balancer"][0]["container_port"] == 8001
    assert _service(built["default"][1])["health_check_grace_period_seconds"] == 60
    assert _service(built["full"][1])["health_check_grace_period_seconds"] == 90


def test_desired_count_is_set_once_and_then_left_to_autoscaling(built):
    default, full = _service(built["default"][1]), _service(built["full"][1])
    assert (default["desired_count"], full["desired_count"]) == (2, 3)
    assert default["lifecycle"] == {"ignore_changes": ["desired_count"]}


def test_service_waits_for_the_role_policies_and_what_it_is_told_to(built):
    _, doc = built["full"]
    policies = {p["name"]: k for k, p in doc.resources("aws_iam_role_policy").items()}
    stand_in = _key(doc, "aws_security_group", "x")
    depends_on = _service(doc)["depends_on"]

    assert f"aws_iam_role_policy.{policies['checkins-prod-auth-execution']}" in depends_on
    assert f"aws_iam_role_policy.{policies['checkins-prod-auth-task']}" in depends_on
    assert f"aws_security_group.{stand_in}" in depends_on
    assert not [
        d
        for d in _service(built["default"][1])["depends_on"]
        if d.startswith("aws_security_group.")
    ]


# ---- autoscaling ----------------------------------------------------------------------------


def test_scaling_target_is_the_services_desired_count_within_min_and_max(built):
    for variant, bounds in (("default", (2, 4)), ("full", (2, 6))):
        _, doc = built[variant]
        (service_key,) = doc.resources("aws_ecs_service")
        scaling = one(doc.resources("aws_appautoscaling_target"))
        assert scaling["service_namespace"] == "ecs"
        assert scaling["scalable_dimension"] == "ecs:service:DesiredCount"
        assert (
            scaling["resource_id"]
            == f"service/checkins-prod/{ref('aws_ecs_service', service_key, 'name')}"
        )
        assert (scaling["min_capacity"], scaling["max_capacity"]) == bounds


def test_two_target_tracking_policies_on_cpu_and_requests_per_task(built):
    for variant, cpu, requests in (("default", 60, 500), ("full", 70, 800)):
        _, doc = built[variant]
        (scaling_key,) = doc.resources("aws_appautoscaling_target")
        policies = {p["name"]: p for p in doc.resources("aws_appautoscaling_policy").values()}
        assert sorted(policies) == ["checkins-prod-auth-cpu", "checkins-prod-auth-requests"]
        for body in policies.values():
            assert body["policy_type"] == "TargetTrackingScaling"
            assert body["resource_id"] == ref(
                "aws_appautoscaling_target", scaling_key, "resource_id"
            )
        cpu_config = policies["checkins-prod-auth-cpu"][
            "target_tracking_scaling_policy_configuration"
        ]
        assert cpu_config["target_value"] == cpu
        assert cpu_config["predefined_metric_specification"] == {
            "predefined_metric_type": "ECSServiceAverageCPUUtilization"
        }
        req_config = policies["checkins-prod-auth-requests"][
            "target_tracking_scaling_policy_configuration"
        ]
        assert req_config["target_value"] == requests
        assert req_config["predefined_metric_specification"] == {
            "predefined_metric_type": "ALBRequestCountPerTarget",
            "resource_label": LABEL,
        }


# ---- attributes, determinism ----------------------------------------------------------------


def test_attributes_resolve_to_the_resources_they_name(built):
    construct, doc = built["full"]
    outputs = {k: v["value"] for k, v in doc.json["output"].items()}
    (service_key,) = doc.resources("aws_ecs_service")
    (task_key,) = doc.resources("aws_ecs_task_definition")
    sg_key = _key(doc, "aws_security_group", "checkins-prod-auth-tasks")

    assert outputs["service_name"] == ref("aws_ecs_service", service_key, "name")
    assert outputs["task_definition_arn"] == ref("aws_ecs_task_definition", task_key, "arn")
    assert outputs["security_group_id"] == ref("aws_security_group", sg_key)
    assert outputs["log_group_name"] == "/ecs/checkins-prod/auth"
    assert outputs["task_role_arn"] == "arn:aws:iam::111122223333:role/checkins-prod-auth-task"
    assert outputs["task_role_name"] == "checkins-prod-auth-task"
    assert outputs["execution_role_arn"] == construct.execution_role_arn


def test_same_props_give_the_same_json():
    from modules.fargate_service import FargateService

    props = _props(environment={"Z": "1", "A": "2"}, writable_tmp=True)
    first = synth_construct(lambda stack: FargateService(stack, "auth", props))[1].json
    second = synth_construct(lambda stack: FargateService(stack, "auth", props))[1].json
    assert json.dumps(first, sort_keys=False) == json.dumps(second, sort_keys=False)


# ---- pure helpers ---------------------------------------------------------------------------


def test_fargate_size_table_is_the_documented_one():
    expected = {
        256: (512, 1024, 2048),
        512: (1024, 2048, 3072, 4096),
        1024: tuple(range(2048, 8193, 1024)),
        2048: tuple(range(4096, 16385, 1024)),
        4096: tuple(range(8192, 30721, 1024)),
        8192: tuple(range(16384, 61441, 4096)),
        16384: tuple(range(32768, 122881, 8192)),
    }
    assert expected == FARGATE_SIZES
    assert FARGATE_SIZES[1024][-1] == 8192 and FARGATE_SIZES[16384][-1] == 122880


@pytest.mark.parametrize(
    ("cpu", "memory"), [(256, 2048), (512, 4096), (4096, 30720), (8192, 20480), (16384, 122880)]
)
def test_valid_fargate_sizes_are_accepted(cpu, memory):
    assert (_props(cpu=cpu, memory=memory).cpu, _props(cpu=cpu, memory=memory).memory) == (
        cpu,
        memory,
    )


@pytest.mark.parametrize(
    ("image", "pinned"),
    [
        (IMAGE, True),
        (f"python@{DIGEST}", True),
        (f"registry.example.com:5000/team/app@{DIGEST}", True),
        ("python:3.11", False),
        ("checkins-prod-auth:latest", False),
        ("111122223333.dkr.ecr.eu-west-1.amazonaws.com/checkins-prod-auth", False),
        (f"app@sha256:{'0' * 63}", False),
        (f"app@sha256:{'A' * 64}", False),
        (f"app:v1@{DIGEST}x", False),
    ],
)
def test_image_must_be_pinned_by_digest(image, pinned):
    assert image_is_pinned(image) is pinned


def test_a_reference_is_pinned_unless_a_tag_or_path_follows_it(token):
    assert image_is_pinned(token)
    assert image_is_pinned(f"{token}@{DIGEST}")
    assert image_is_pinned(f"{token}@{token}")
    assert not image_is_pinned(f"{token}:latest")
    assert not image_is_pinned(f"{token}/app")


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("DB_PASSWORD", True),
        ("db_password", True),
        ("PASSWORD_FILE", True),
        ("API_SECRET", True),
        ("CLIENT_SECRET_VALUE", True),
        ("GITHUB_TOKEN", True),
        ("SIGNING_KEYS_SECRET_ARN", False),
        ("TOKEN_TTL_SECONDS", False),
        ("AUTH_ISSUER", False),
        ("ACCESS_TOKEN_TTL_SECONDS", False),
    ],
)
def test_secret_looking_names(name, secret):
    assert looks_like_secret(name) is secret


def test_secret_policy_arn_drops_the_json_key(token):
    assert secret_policy_arn(f"{DB_SECRET}:password::") == DB_SECRET
    assert secret_policy_arn(f"{DB_SECRET}:password:AWSCURRENT:") == DB_SECRET
    assert secret_policy_arn(DB_SECRET) == DB_SECRET
    assert secret_policy_arn(f"{token}:password::") == token
    assert secret_policy_arn(token) == token


# ---- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"cpu": 300},
            "FargateServiceProps.cpu: 300: is not a Fargate CPU size; valid: 256, 512, 1024, 2048, 4096, 8192, 16384",
        ),
        (
            {"memory": 4096},
            "FargateServiceProps.memory: 4096: is not valid with cpu 256; valid: 512, 1024, 2048",
        ),
        (
            {"cpu": 512, "memory": 512},
            "FargateServiceProps.memory: 512: is not valid with cpu 512; valid: 1024, 2048, 3072, 4096",
        ),
        (
            {"cpu": 8192, "memory": 17408},
            "FargateServiceProps.memory: 17408: is not valid with cpu 8192; valid: 16384, 20480, ",
        ),
        (
            {"cpu": 16384, "memory": 36864},
            "FargateServiceProps.memory: 36864: is not valid with cpu 16384; valid: 32768, 40960, ",
        ),
        (
            {"cpu_architecture": "arm64"},
            "FargateServiceProps.cpu_architecture: 'arm64': must be one of ARM64, X86_64",
        ),
        (
            {"image": "checkins-prod-auth:latest"},
            "FargateServiceProps.image: 'checkins-prod-auth:latest': must be pinned by digest",
        ),
        ({"image": "python"}, "FargateServiceProps.image: 'python': must be pinned by digest"),
        ({"user": "root"}, "FargateServiceProps.user: 'root': must not be root"),
        ({"user": "0"}, "FargateServiceProps.user: '0': must not be root"),
        ({"user": "0:10001"}, "FargateServiceProps.user: '0:10001': must not be root"),
        ({"user": "root:app"}, "FargateServiceProps.user: 'root:app': must not be root"),
        ({"user": ""}, "FargateServiceProps.user: '': is not uid[:gid]"),
        (
            {"environment": {"DB_PASSWORD": "x"}},
            "FargateServiceProps.environment: ['DB_PASSWORD']: look like secrets",
        ),
        (
            {"environment": {"JWT_SECRET": "x", "A": "1"}},
            "FargateServiceProps.environment: ['JWT_SECRET']: look like secrets",
        ),
        (
            {"environment": {"API_TOKEN": "x"}},
            "FargateServiceProps.environment: ['API_TOKEN']: look like secrets",
        ),
        (
            {"environment": {"1BAD": "x"}},
            "FargateServiceProps.environment: ['1BAD']: are not valid names",
        ),
        (
            {"environment": {"ECS_CONTAINER_METADATA_URI_V4": "x"}},
            "FargateServiceProps.environment: ['ECS_CONTAINER_METADATA_URI_V4']: are not valid names or are set by ECS",
        ),
        (
            {"environment": {"PORT": 8000}},
            "FargateServiceProps.environment: ['PORT']: values must be strings",
        ),
        (
            {
                "environment": {"DB_USER": "app"},
                "secrets": {"DB_USER": f"{DB_SECRET}:username::"},
                "secrets_kms_key_arn": SECRETS_KEY,
            },
            "FargateServiceProps.secrets: ['DB_USER']: are also in environment",
        ),
        (
            {
                "secrets": {"DB_PASSWORD": "arn:aws:ssm:eu-west-1:111122223333:parameter/db"},
                "secrets_kms_key_arn": SECRETS_KEY,
            },
            "FargateServiceProps.secrets: ['DB_PASSWORD']: are not Secrets Manager secret ARNs",
        ),
        (
            {
                "secrets": {"DB_PASSWORD": f"{DB_SECRET}:password"},
                "secrets_kms_key_arn": SECRETS_KEY,
            },
            "FargateServiceProps.secrets: ['DB_PASSWORD']: are not Secrets Manager secret ARNs",
        ),
        (
            {"secrets": {"DB_PASSWORD": DB_SECRET}},
            "FargateServiceProps.secrets_kms_key_arn: None: is required with secrets",
        ),
        (
            {"secrets_kms_key_arn": SECRETS_KEY},
            f"FargateServiceProps.secrets_kms_key_arn: '{SECRETS_KEY}': is required with secrets, and only with them",
        ),
        (
            {"log_retention_days": 45},
            "FargateServiceProps.log_retention_days: 45: is not a CloudWatch Logs retention",
        ),
        (
            {"log_retention_days": 0},
            "FargateServiceProps.log_retention_days: 0: is not a CloudWatch Logs retention",
        ),
        (
            {"log_group_name": "ecs logs"},
            "FargateServiceProps.log_group_name: 'ecs logs': is not a log group name",
        ),
        (
            {"log_kms_key_arn": "alias/logs"},
            "FargateServiceProps.log_kms_key_arn: 'alias/logs': is not an kms ARN",
        ),
        (
            {"desired_count": 0, "min_count": 1},
            "FargateServiceProps.desired_count: 0: must be at least 1",
        ),
        (
            {"desired_count": 1},
            "FargateServiceProps.desired_count: 1: must be within min_count..max_count (2..4)",
        ),
        (
            {"desired_count": 5},
            "FargateServiceProps.desired_count: 5: must be within min_count..max_count (2..4)",
        ),
        (
            {"min_count": 3, "max_count": 2, "desired_count": 3},
            "FargateServiceProps.desired_count: 3: must be within min_count..max_count (3..2)",
        ),
        (
            {"min_count": 0, "desired_count": 1},
            "FargateServiceProps.min_count: 0: must be at least 1",
        ),
        (
            {"cpu_target_percent": 0},
            "FargateServiceProps.cpu_target_percent: 0: is outside 1..100",
        ),
        (
            {"requests_per_target": 0},
            "FargateServiceProps.requests_per_target: 0: must be at least 1",
        ),
        (
            {"health_check_grace_period_seconds": 3601},
            "FargateServiceProps.health_check_grace_period_seconds: 3601: is outside 0..3600",
        ),
        (
            {"stop_timeout_seconds": 121},
            "FargateServiceProps.stop_timeout_seconds: 121: is outside 2..120",
        ),
        (
            {"xray_sidecar": True},
            "FargateServiceProps.xray_image: None: is required with xray_sidecar",
        ),
        ({"xray_image": XRAY_IMAGE}, "FargateServiceProps.xray_image: "),
        (
            {"xray_sidecar": True, "xray_image": "amazon/aws-xray-daemon:latest"},
            "FargateServiceProps.xray_image: 'amazon/aws-xray-daemon:latest': must be pinned by digest",
        ),
        ({"egress": ()}, "FargateServiceProps.egress: (): must name at least one rule"),
        (
            {"egress": (ENDPOINTS, replace(S3, description=ENDPOINTS.description))},
            "FargateServiceProps.egress: ['HTTPS to the VPC endpoints', 'HTTPS to the VPC endpoints']: rule descriptions must be distinct",
        ),
        (
            {"request_count_resource_label": "targetgroup/x/1"},
            "FargateServiceProps.request_count_resource_label: 'targetgroup/x/1': is not app/",
        ),
        (
            {"repository_arn": "arn:aws:ecr:eu-west-1:111122223333:checkins"},
            "FargateServiceProps.repository_arn: ",
        ),
        ({"name": "Checkins"}, "FargateServiceProps.name: 'Checkins': is not a-z, 0-9, -"),
        ({"name": "a" * 55}, "FargateServiceProps.name: "),
        (
            {"subnet_ids": ()},
            "FargateServiceProps.subnet_ids: (): must name at least one subnet",
        ),
        ({"subnet_ids": ("subnet-a", "subnet-a")}, "FargateServiceProps.subnet_ids: "),
        ({"container_port": 0}, "FargateServiceProps.container_port: 0: is outside 1..65535"),
        (
            {"container_name": "xray-daemon"},
            "FargateServiceProps.container_name: 'xray-daemon': ",
        ),
    ],
)
def test_bad_props_fail_with_the_field_and_reason(overrides, message):
    with pytest.raises(PropsError) as error:
        _props(**overrides)
    assert str(error.value).startswith(message)


def test_a_tag_after_a_reference_is_refused(token):
    with pytest.raises(
        PropsError, match=r"^FargateServiceProps\.image: .*must be pinned by digest"
    ):
        _props(image=f"{token}:latest")


def test_a_secret_reference_may_carry_a_json_key(token):
    props = _props(secrets={"DB_PASSWORD": f"{token}:password::"}, secrets_kms_key_arn=SECRETS_KEY)
    assert props.secret_arns == (token,)
    with pytest.raises(PropsError, match=r"^FargateServiceProps\.secrets: \['DB_PASSWORD'\]: "):
        _props(secrets={"DB_PASSWORD": f"{token}/x"}, secrets_kms_key_arn=SECRETS_KEY)


def test_every_retention_cloudwatch_accepts_is_accepted():
    for days in sorted(LOG_RETENTION_DAYS):
        assert _props(log_retention_days=days).log_retention_days == days


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: EgressRule("x", 443), "EgressRule.destination: []: give exactly one of"),
        (
            lambda: EgressRule(
                "x", 443, security_group_id="sg-0aaaaaaaaaaaaaaaa", cidr_ipv4="10.0.0.0/8"
            ),
            "EgressRule.destination: ",
        ),
        (
            lambda: EgressRule("x", 0, cidr_ipv4="10.0.0.0/8"),
            "EgressRule.port: 0: is outside 1..65535",
        ),
        (
            lambda: EgressRule("x", 443, security_group_id="vpc-1"),
            "EgressRule.security_group_id: 'vpc-1': ",
        ),
        (
            lambda: EgressRule("x", 443, prefix_list_id="sg-0aaaaaaaa"),
            "EgressRule.prefix_list_id: 'sg-0aaaaaaaa': ",
        ),
        (
            lambda: EgressRule("x", 443, cidr_ipv4="10.0.0.0/33"),
            "EgressRule.cidr_ipv4: '10.0.0.0/33': is not an IPv4 CIDR block",
        ),
        (lambda: EgressRule("x", 443, cidr_ipv4="::/0"), "EgressRule.cidr_ipv4: '::/0': "),
        (lambda: EgressRule("", 443, cidr_ipv4="10.0.0.0/8"), "EgressRule.description: '': "),
        (lambda: EgressRule("naïve", 443, cidr_ipv4="10.0.0.0/8"), "EgressRule.description: "),
    ],
)
def test_bad_egress_rules_fail_with_the_field_named(build, message):
    with pytest.raises(PropsError) as error:
        build()
    assert str(error.value).startswith(message)
