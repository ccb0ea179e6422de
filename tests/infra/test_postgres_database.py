"""The PostgresDatabase construct on a bare stack: an instance (single or Multi-AZ) and the
Multi-AZ DB cluster with readable standbys; encryption, TLS, IAM auth, the clients' security
groups, the log groups, monitoring, and what destroy does."""

from __future__ import annotations

from dataclasses import replace

import pytest

from modules.aws_target import AwsTarget
from modules.postgres_database import PostgresDatabaseProps
from modules.props import PropsError
from tests.infra.conftest import synth_construct
from tests.infra.helpers import one, policy, ref

TARGET = AwsTarget(account_id="111122223333", region="eu-west-1")
DATA_KEY = "arn:aws:kms:eu-west-1:111122223333:key/11111111-1111-1111-1111-111111111111"
SECRET_KEY = "arn:aws:kms:eu-west-1:111122223333:key/22222222-2222-2222-2222-222222222222"
LOGS_KEY = "arn:aws:kms:eu-west-1:111122223333:key/33333333-3333-3333-3333-333333333333"


def _props(**overrides) -> PostgresDatabaseProps:
    return replace(
        PostgresDatabaseProps(
            identifier="app-auth",
            target=TARGET,
            vpc_id="vpc-0123",
            subnet_ids=("subnet-a", "subnet-b"),
            client_names=("auth-service", "auth-migration"),
            storage_kms_key_arn=DATA_KEY,
            secret_kms_key_arn=SECRET_KEY,
            log_kms_key_arn=LOGS_KEY,
            log_retention_days=30,
        ),
        **overrides,
    )


def _key(doc, resource_type: str) -> str:
    (key,) = doc.resources(resource_type)
    return key


@pytest.fixture(scope="module")
def built():
    from modules.postgres_database import PostgresDatabase

    def make(**overrides):
        def build(stack):
            from cdktf import TerraformOutput

            from modules.policy import policy_document

            db = PostgresDatabase(stack, "db", _props(**overrides))
            # Attributes are references: outputs show what they resolve to.
            TerraformOutput(stack, "reader", value=db.reader_address or "none")
            TerraformOutput(stack, "resource_id", value=db.resource_id)
            TerraformOutput(stack, "secret", value=db.master_secret_arn)
            TerraformOutput(
                stack,
                "policy",
                value=policy_document(
                    db.connect_statement("auth_app"), *db.master_secret_statements()
                ),
            )
            return db

        return synth_construct(build)

    return {
        "protected": make(multi_az=True, max_allocated_storage_gb=200),
        "throwaway": make(deletion_protection=False, monitoring_interval_seconds=0),
        "cluster": make(
            multi_az=True, readable_standbys=True, instance_class="db.m6gd.large", engine_major=16
        ),
    }


def test_instance_is_encrypted_private_tls_only_and_uses_iam_auth(built):
    _, doc = built["protected"]
    instance = one(doc.resources("aws_db_instance"))
    params = {
        p["name"]: p["value"] for p in one(doc.resources("aws_db_parameter_group"))["parameter"]
    }

    assert instance["storage_encrypted"] is True
    assert instance["kms_key_id"] == DATA_KEY
    assert instance["performance_insights_kms_key_id"] == DATA_KEY
    assert instance["master_user_secret_kms_key_id"] == SECRET_KEY
    assert instance["manage_master_user_password"] is True
    assert "password" not in instance
    assert instance["iam_database_authentication_enabled"] is True
    assert instance["publicly_accessible"] is False
    assert instance["engine_version"] == "17" and instance["auto_minor_version_upgrade"] is True
    assert instance["multi_az"] is True and instance["max_allocated_storage"] == 200
    assert instance["ca_cert_identifier"] == "rds-ca-rsa2048-g1"
    assert params["rds.force_ssl"] == "1"
    assert params["ssl_min_protocol_version"] == "TLSv1.2"
    assert params["log_min_duration_statement"] == "500"
    assert one(doc.resources("aws_db_parameter_group"))["family"] == "postgres17"
    assert one(doc.resources("aws_db_subnet_group"))["subnet_ids"] == ["subnet-a", "subnet-b"]
    assert doc.json["output"]["reader"]["value"] == "none"
    assert doc.json["output"]["resource_id"]["value"] == ref(
        "aws_db_instance", _key(doc, "aws_db_instance"), "resource_id"
    )


def test_protected_instance_keeps_a_final_snapshot_and_refuses_destroy(built):
    instance = one(built["protected"][1].resources("aws_db_instance"))
    assert instance["deletion_protection"] is True
    assert instance["skip_final_snapshot"] is False
    assert instance["final_snapshot_identifier"] == "app-auth-final"
    assert instance["delete_automated_backups"] is False
    assert instance["lifecycle"] == {"prevent_destroy": True}
    assert instance["copy_tags_to_snapshot"] is True


def test_throwaway_instance_destroys_without_a_snapshot_name(built):
    doc = built["throwaway"][1]
    instance = one(doc.resources("aws_db_instance"))
    assert instance["deletion_protection"] is False
    assert instance["skip_final_snapshot"] is True
    assert "final_snapshot_identifier" not in instance
    assert "lifecycle" not in instance
    # Monitoring off: no role, and RDS refuses a role without an interval.
    assert instance["monitoring_interval"] == 0 and "monitoring_role_arn" not in instance
    assert doc.resources("aws_iam_role") == {}


def test_only_the_clients_groups_reach_the_port_and_the_database_starts_nothing(built):
    db, doc = built["protected"]
    groups = doc.resources("aws_security_group")
    by_name = {body["name"]: key for key, body in groups.items()}
    ingress = doc.resources("aws_vpc_security_group_ingress_rule").values()
    egress = doc.resources("aws_vpc_security_group_egress_rule").values()
    database = ref("aws_security_group", by_name["app-auth"])

    assert set(by_name) == {"app-auth", "app-auth-auth-service", "app-auth-auth-migration"}
    assert sorted(r["referenced_security_group_id"] for r in ingress) == sorted(
        ref("aws_security_group", by_name[f"app-auth-{c}"])
        for c in ("auth-migration", "auth-service")
    )
    assert all(r["security_group_id"] == database for r in ingress)
    assert all(
        (r["from_port"], r["to_port"], r["ip_protocol"]) == (5432, 5432, "tcp") for r in ingress
    )
    assert "cidr_ipv4" not in str(list(ingress))
    # Egress rules belong to the clients only, towards the database.
    assert {r["security_group_id"] for r in egress} == {
        ref("aws_security_group", by_name[f"app-auth-{c}"])
        for c in ("auth-migration", "auth-service")
    }
    assert all(r["referenced_security_group_id"] == database for r in egress)
    assert set(db.client_security_group_ids) == {"auth-service", "auth-migration"}


def test_exported_logs_go_to_encrypted_groups_created_first(built):
    doc = built["protected"][1]
    instance = one(doc.resources("aws_db_instance"))
    groups = doc.resources("aws_cloudwatch_log_group")

    assert sorted(g["name"] for g in groups.values()) == [
        "/aws/rds/instance/app-auth/postgresql",
        "/aws/rds/instance/app-auth/upgrade",
    ]
    assert all(
        g["kms_key_id"] == LOGS_KEY and g["retention_in_days"] == 30 for g in groups.values()
    )
    assert instance["enabled_cloudwatch_logs_exports"] == ["postgresql", "upgrade"]
    created_first = {d for d in instance["depends_on"] if d.startswith("aws_cloudwatch_log_group")}
    assert created_first == {f"aws_cloudwatch_log_group.{k}" for k in groups}


def test_enhanced_monitoring_role_is_trusted_by_rds_monitoring_for_this_database_only(built):
    doc = built["protected"][1]
    role = one(doc.resources("aws_iam_role"))
    (trust,) = policy(role, "assume_role_policy")["Statement"]
    attachment = one(doc.resources("aws_iam_role_policy_attachment"))
    (attachment_key,) = doc.resources("aws_iam_role_policy_attachment")
    instance = one(doc.resources("aws_db_instance"))
    # The policy is attached before RDS starts sending metrics as the role.
    assert f"aws_iam_role_policy_attachment.{attachment_key}" in instance["depends_on"]

    assert trust["Principal"] == {"Service": "monitoring.rds.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": "111122223333"}
    assert trust["Condition"]["ArnLike"] == {
        "aws:SourceArn": "arn:aws:rds:eu-west-1:111122223333:db:app-auth"
    }
    assert attachment["policy_arn"] == (
        "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
    )
    assert one(doc.resources("aws_db_instance"))["monitoring_interval"] == 60


def test_read_scale_out_is_a_multi_az_db_cluster_with_a_reader_endpoint(built):
    _, doc = built["cluster"]
    cluster = one(doc.resources("aws_rds_cluster"))
    group = one(doc.resources("aws_rds_cluster_parameter_group"))

    assert doc.resources("aws_db_instance") == {}
    assert cluster["engine"] == "postgres" and cluster["engine_version"] == "16"
    assert cluster["db_cluster_instance_class"] == "db.m6gd.large"
    assert cluster["manage_master_user_password"] is True
    assert cluster["iam_database_authentication_enabled"] is True
    assert cluster["kms_key_id"] == DATA_KEY and cluster["storage_encrypted"] is True
    assert group["family"] == "postgres16"
    assert {p["name"]: p["value"] for p in group["parameter"]}["rds.force_ssl"] == "1"
    outputs = doc.json["output"]
    assert outputs["reader"]["value"] == ref(
        "aws_rds_cluster", _key(doc, "aws_rds_cluster"), "reader_endpoint"
    )
    assert outputs["resource_id"]["value"] == ref(
        "aws_rds_cluster", _key(doc, "aws_rds_cluster"), "cluster_resource_id"
    )
    assert outputs["secret"]["value"] == (
        "${aws_rds_cluster." + _key(doc, "aws_rds_cluster") + ".master_user_secret[0].secret_arn}"
    )
    assert sorted(g["name"] for g in doc.resources("aws_cloudwatch_log_group").values()) == [
        "/aws/rds/cluster/app-auth/postgresql"
    ]


def _workload_policy(doc):
    import json

    return json.loads(doc.json["output"]["policy"]["value"])["Statement"]


def test_connect_statement_names_the_resource_id_and_one_user(built):
    db, doc = built["protected"]
    statement = _workload_policy(doc)[0]

    assert statement["Action"] == "rds-db:connect"
    assert statement["Resource"] == (
        "arn:aws:rds-db:eu-west-1:111122223333:dbuser:"
        + ref("aws_db_instance", _key(doc, "aws_db_instance"), "resource_id")
        + "/auth_app"
    )
    with pytest.raises(PropsError, match="db_user"):
        db.connect_statement("*")


def test_master_secret_statements_read_one_secret_through_secrets_manager(built):
    doc = built["protected"][1]
    _, read, decrypt = _workload_policy(doc)
    assert read["Action"] == "secretsmanager:GetSecretValue"
    assert read["Resource"] == (
        "${aws_db_instance." + _key(doc, "aws_db_instance") + ".master_user_secret[0].secret_arn}"
    )
    assert decrypt["Resource"] == SECRET_KEY
    assert decrypt["Condition"] == {
        "StringEquals": {"kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com"}
    }


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"identifier": "App_Auth"}, "identifier"),
        ({"identifier": "auth--db"}, "identifier"),
        ({"subnet_ids": ("subnet-a",)}, "subnet_ids"),
        ({"client_names": ()}, "client_names"),
        ({"client_names": ("a", "a")}, "client_names"),
        ({"engine_major": 12}, "engine_major"),
        ({"instance_class": "m5.large"}, "instance_class"),
        ({"allocated_storage_gb": 19}, "allocated_storage_gb"),
        ({"max_allocated_storage_gb": 20}, "max_allocated_storage_gb"),
        ({"backup_retention_days": 0}, "backup_retention_days"),
        ({"monitoring_interval_seconds": 2}, "monitoring_interval_seconds"),
        ({"insights_retention_days": 100}, "insights_retention_days"),
        ({"readable_standbys": True, "multi_az": True}, "readable_standbys"),  # t4g: no cluster
        ({"readable_standbys": True, "instance_class": "db.r6gd.large"}, "readable_standbys"),
        ({"storage_kms_key_arn": "alias/data"}, "storage_kms_key_arn"),
    ],
)
def test_invalid_props_name_the_field(overrides, field):
    with pytest.raises(PropsError, match=rf"PostgresDatabaseProps\.{field}"):
        _props(**overrides)
