"""The CheckinsKeyspace construct on a bare stack, and the match between the app's CQL and the
Terraform tables."""

from __future__ import annotations

import json
import re

import pytest
from checkins_data.schema import build_schema

from tests.infra.conftest import synth_construct

KMS = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ACCOUNT = "123456789012"


def _props(**overrides):
    from modules.aws_target import AwsTarget
    from modules.checkins_keyspace import CheckinsKeyspaceProps

    base = {"target": AwsTarget(account_id=ACCOUNT, region="eu-west-1"), "kms_key_arn": KMS}
    return CheckinsKeyspaceProps(**{**base, **overrides})


@pytest.fixture(scope="module")
def built():
    """Synthesize the construct on a bare stack with its defaults and with every opt-out."""
    from modules.checkins_keyspace import CheckinsKeyspace

    constructs = {}
    docs = {}
    for name, props in {
        "default": _props(),
        "opted_out": _props(
            keyspace_name="checkins_dev", point_in_time_recovery=False, prevent_destroy=False
        ),
    }.items():
        constructs[name], doc = synth_construct(
            lambda stack, p=props: CheckinsKeyspace(stack, "keyspaces", p), name=name
        )
        docs[name] = doc.json
    return {**docs, "constructs": constructs}


def _resources(doc, resource_type):
    return doc.get("resource", {}).get(resource_type, {})


def _tables(doc):
    return {body["table_name"]: body for body in _resources(doc, "aws_keyspaces_table").values()}


# ---- the CQL the app runs, parsed back from its text ----

_CREATE = re.compile(
    r"CREATE TABLE IF NOT EXISTS (?P<ks>\w+)\.(?P<name>\w+) \(\n(?P<body>.*)\n\)(?:\nWITH (?P<with>.*))?\Z",
    re.DOTALL,
)


def parse_create_table(cql):
    """Columns, keys, clustering order and default TTL as Cassandra reads `CREATE TABLE`."""
    m = _CREATE.match(cql)
    assert m, cql
    lines = [line.strip().rstrip(",") for line in m["body"].splitlines()]
    pk_line = next(line for line in lines if line.startswith("PRIMARY KEY"))
    columns = dict(line.split(" ", 1) for line in lines if not line.startswith("PRIMARY KEY"))
    key = re.fullmatch(r"PRIMARY KEY \(\((?P<part>[^)]*)\)(?P<rest>.*)\)", pk_line)
    partition = [p.strip() for p in key["part"].split(",")]
    clustering = [c.strip() for c in key["rest"].split(",") if c.strip()]
    with_clause = m["with"] or ""
    order = re.search(r"CLUSTERING ORDER BY \(([^)]*)\)", with_clause)
    orders = dict(o.strip().split() for o in order[1].split(",")) if order else {}
    ttl = re.search(r"default_time_to_live = (\d+)", with_clause)
    return {
        "columns": columns,
        "partition": partition,
        # Cassandra's default clustering order is ASC.
        "clustering": [(c, orders.get(c, "ASC")) for c in clustering],
        "ttl": int(ttl[1]) if ttl else None,
    }


def terraform_view(body):
    sd = body["schema_definition"]
    return {
        "columns": {c["name"]: c["type"] for c in sd["column"]},
        "partition": [p["name"] for p in sd["partition_key"]],
        "clustering": [(c["name"], c["order_by"]) for c in sd.get("clustering_key", [])],
        "ttl": body.get("default_time_to_live"),
    }


def test_terraform_tables_match_the_cql_the_app_runs(built):
    schema = build_schema()
    tables = _tables(built["default"])
    assert set(tables) == {t.name for t in schema.tables}
    for table in schema.tables:
        cql = parse_create_table(table.create_cql(schema.keyspace))
        assert terraform_view(tables[table.name]) == cql, table.name


def test_ttl_is_enabled_exactly_where_the_cql_sets_a_default_ttl(built):
    schema = build_schema()
    for table in schema.tables:
        body = _tables(built["default"])[table.name]
        has_ttl = parse_create_table(table.create_cql(schema.keyspace))["ttl"] is not None
        assert ("ttl" in body) == has_ttl, table.name
        if has_ttl:
            assert body["ttl"] == {"status": "ENABLED"}
            assert body["default_time_to_live"] == 400 * 86_400


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_environment_stacks_create_the_tables_the_app_queries(synthesized, env):
    stack = synthesized.stacks[env]
    ((ks_key, keyspace),) = _resources(stack, "aws_keyspaces_keyspace").items()
    tables = _tables(stack)
    schema = build_schema(keyspace["name"])
    assert set(tables) == {t.name for t in schema.tables}
    for table in schema.tables:
        body = tables[table.name]
        assert body["keyspace_name"] == f"${{aws_keyspaces_keyspace.{ks_key}.name}}"
        cql = parse_create_table(table.create_cql(schema.keyspace))
        # The TTL is environment configuration; its presence must still match the CQL's.
        assert {**terraform_view(body), "ttl": None} == {**cql, "ttl": None}, table.name
        assert ("ttl" in body) == (cql["ttl"] is not None)
        assert body["encryption_specification"]["type"] == "CUSTOMER_MANAGED_KMS_KEY"
        assert body["point_in_time_recovery"]["status"] == "ENABLED"


@pytest.mark.cassandra
def test_terraform_tables_match_the_tables_cassandra_built(
    built, cassandra_cluster, cassandra_keyspace
):
    """The same comparison against the live tables a real node built from the CQL."""
    live_ks = cassandra_cluster.metadata.keyspaces[cassandra_keyspace]
    for name, body in _tables(built["default"]).items():
        live = live_ks.tables[name]
        assert terraform_view(body) == {
            "columns": {n: c.cql_type for n, c in live.columns.items()},
            "partition": [c.name for c in live.partition_key],
            "clustering": [
                (c.name, "DESC" if c.is_reversed else "ASC") for c in live.clustering_key
            ],
            "ttl": live.options["default_time_to_live"] or None,
        }, name


# ---- security and resilience properties ----


def test_every_table_is_encrypted_with_the_customer_managed_key(built):
    for name, body in _tables(built["default"]).items():
        assert body["encryption_specification"] == {
            "type": "CUSTOMER_MANAGED_KMS_KEY",
            "kms_key_identifier": KMS,
        }, name


def test_point_in_time_recovery_is_on_by_default_and_off_only_when_asked(built):
    assert {b["point_in_time_recovery"]["status"] for b in _tables(built["default"]).values()} == {
        "ENABLED"
    }
    assert {
        b["point_in_time_recovery"]["status"] for b in _tables(built["opted_out"]).values()
    } == {"DISABLED"}


def test_tables_use_on_demand_capacity(built):
    for body in _tables(built["default"]).values():
        assert body["capacity_specification"] == {"throughput_mode": "PAY_PER_REQUEST"}


def test_keyspace_and_tables_are_protected_from_destroy_by_default(built):
    default = built["default"]
    bodies = [*_resources(default, "aws_keyspaces_keyspace").values(), *_tables(default).values()]
    assert bodies and all(b["lifecycle"]["prevent_destroy"] is True for b in bodies)
    opted = [*_resources(built["opted_out"], "aws_keyspaces_keyspace").values()]
    assert all(b.get("lifecycle", {}).get("prevent_destroy") is not True for b in opted)


def test_keyspace_is_single_region_and_named_by_props(built):
    ((ks_key, ks),) = _resources(built["default"], "aws_keyspaces_keyspace").items()
    assert ks["name"] == "checkins"
    assert ks["replication_specification"] == {"replication_strategy": "SINGLE_REGION"}
    assert {b["keyspace_name"] for b in _tables(built["default"]).values()} == {
        f"${{aws_keyspaces_keyspace.{ks_key}.name}}"
    }
    ((_, dev_ks),) = _resources(built["opted_out"], "aws_keyspaces_keyspace").items()
    assert dev_ks["name"] == "checkins_dev"


def test_tags_come_from_the_provider_default_tags(built):
    for body in [
        *_resources(built["default"], "aws_keyspaces_keyspace").values(),
        *_tables(built["default"]).values(),
    ]:
        assert "tags" not in body


# ---- what IAM policies use ----


def test_table_arns_have_the_keyspaces_format(built):
    construct = built["constructs"]["default"]
    assert construct.table_arns == {
        t.name: f"arn:aws:cassandra:eu-west-1:{ACCOUNT}:/keyspace/checkins/table/{t.name}"
        for t in build_schema().tables
    }
    assert construct.keyspace_arn == f"arn:aws:cassandra:eu-west-1:{ACCOUNT}:/keyspace/checkins/"


def test_access_statements_name_exact_tables_and_system_keyspaces(built):
    from modules.policy import policy_document

    construct = built["constructs"]["default"]
    doc = json.loads(
        policy_document(
            *construct.access_statements("Cleanup", tables=("active_days", "day_partitions"))
        )
    )
    tables, system = doc["Statement"]
    assert tables["Action"] == ["cassandra:Select", "cassandra:Modify"]
    assert tables["Resource"] == [
        construct.table_arns["active_days"],
        construct.table_arns["day_partitions"],
    ]
    assert system == {
        "Sid": "CleanupSystemTables",
        "Effect": "Allow",
        "Action": "cassandra:Select",
        "Resource": f"arn:aws:cassandra:eu-west-1:{ACCOUNT}:/keyspace/system*",
    }
    read_only = construct.access_statements("Reader", write=False)[0].render()
    assert read_only["Action"] == "cassandra:Select"
    assert len(read_only["Resource"]) == len(build_schema().tables)
    with pytest.raises(ValueError, match="unknown tables"):
        construct.access_statements("X", tables=("nope",))


# ---- props validation ----


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"kms_key_arn": "arn:aws:kms:eu-west-1:123456789012:alias/checkins"}, "kms_key_arn"),
        ({"kms_key_arn": ""}, "kms_key_arn"),
        ({"keyspace_name": "Check-ins"}, "keyspace_name"),
        ({"safety_ttl_days": 0}, "safety_ttl_days"),
    ],
)
def test_bad_props_fail_with_the_field_named(overrides, field):
    with pytest.raises(ValueError, match=field):
        _props(**overrides)


# ---- capacity: on-demand by default, provisioned with target tracking where asked ----


def _scaled():
    from modules.checkins_keyspace import TableCapacity

    return _props(
        provisioned={
            "checkins_by_device_day": TableCapacity(
                min_read_units=10, max_read_units=200, min_write_units=20, max_write_units=400,
                target_utilization_percent=60,
            )
        }
    )  # fmt: skip


@pytest.fixture(scope="module")
def scaled():
    from modules.checkins_keyspace import CheckinsKeyspace

    _, doc = synth_construct(
        lambda stack: CheckinsKeyspace(stack, "keyspaces", _scaled()), "scaled"
    )
    return doc.json


def test_every_table_is_on_demand_by_default(built):
    for table in _tables(built["default"]).values():
        assert table["capacity_specification"]["throughput_mode"] == "PAY_PER_REQUEST"
    assert not _resources(built["default"], "aws_appautoscaling_target")


def test_a_provisioned_table_starts_at_its_minimum_and_scaling_owns_its_units(scaled):
    tables = _tables(scaled)
    checkins = tables.pop("checkins_by_device_day")
    assert checkins["capacity_specification"] == {
        "throughput_mode": "PROVISIONED", "read_capacity_units": 10, "write_capacity_units": 20,
    }  # fmt: skip
    assert sorted(checkins["lifecycle"]["ignore_changes"]) == [
        "capacity_specification[0].read_capacity_units",
        "capacity_specification[0].write_capacity_units",
    ]
    for other in tables.values():  # the rest stay on-demand, with nothing ignored
        assert other["capacity_specification"]["throughput_mode"] == "PAY_PER_REQUEST"
        assert "ignore_changes" not in other.get("lifecycle", {})


def test_a_provisioned_table_tracks_its_target_utilization_for_reads_and_writes(scaled):
    targets = _resources(scaled, "aws_appautoscaling_target")
    policies = _resources(scaled, "aws_appautoscaling_policy")
    by_dimension = {t["scalable_dimension"]: t for t in targets.values()}

    assert by_dimension.keys() == {"cassandra:table:ReadCapacityUnits",
                                   "cassandra:table:WriteCapacityUnits"}  # fmt: skip
    read = by_dimension["cassandra:table:ReadCapacityUnits"]
    write = by_dimension["cassandra:table:WriteCapacityUnits"]
    assert (read["min_capacity"], read["max_capacity"]) == (10, 200)
    assert (write["min_capacity"], write["max_capacity"]) == (20, 400)
    for target in targets.values():
        assert target["service_namespace"] == "cassandra"
        # A reference to the table: the target is registered after the table exists.
        assert re.fullmatch(
            r"keyspace/\$\{aws_keyspaces_table\.\S+\.keyspace_name\}/table/"
            r"\$\{aws_keyspaces_table\.\S+\.table_name\}",
            target["resource_id"],
        ), target["resource_id"]
    metrics = sorted(
        p["target_tracking_scaling_policy_configuration"]["predefined_metric_specification"][
            "predefined_metric_type"
        ]
        for p in policies.values()
    )
    assert metrics == ["CassandraReadCapacityUtilization", "CassandraWriteCapacityUtilization"]
    for policy in policies.values():
        assert policy["policy_type"] == "TargetTrackingScaling"
        assert policy["target_tracking_scaling_policy_configuration"]["target_value"] == 60


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"min_read_units": 0}, "TableCapacity.min_read_units"),
        ({"max_write_units": 5}, "TableCapacity.max_write_units"),
        ({"max_read_units": 40_001}, "TableCapacity.max_read_units"),
        ({"target_utilization_percent": 95}, "TableCapacity.target_utilization_percent"),
    ],
)
def test_table_capacity_out_of_range_names_the_field(changes, field):
    from modules.checkins_keyspace import TableCapacity
    from modules.props import PropsError

    values = {"min_read_units": 1, "max_read_units": 10, "min_write_units": 10,
              "max_write_units": 10, **changes}  # fmt: skip
    with pytest.raises(PropsError, match=re.escape(field)):
        TableCapacity(**values)


def test_capacity_for_a_table_the_schema_lacks_is_refused():
    from modules.checkins_keyspace import TableCapacity
    from modules.props import PropsError

    with pytest.raises(PropsError, match=r"CheckinsKeyspaceProps\.provisioned"):
        _props(provisioned={"nope": TableCapacity(1, 1, 1, 1)})
