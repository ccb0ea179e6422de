"""The CQL the app runs matches the Keyspaces tables Terraform creates.

Cassandra itself reports, for every statement the app prepares, which table and column each
bind marker and result column is, and its type; those are compared with the
`aws_keyspaces_table` schema definitions of the synthesized Terraform. The read path also relies
on the keys and clustering order, which are compared too.
"""

from __future__ import annotations

import pytest
from checkins_data.schema import CHECKINS_BY_DEVICE_DAY

# CQL spells text also as varchar; the driver reports the latter.
_ALIASES = {"varchar": "text"}


def _tables(stack: dict) -> dict[str, dict]:
    bodies = stack.get("resource", {}).get("aws_keyspaces_table", {}).values()
    return {body["table_name"]: body["schema_definition"] for body in bodies}


def _used_columns(repository) -> set[tuple[str, str, str]]:
    """(table, column, CQL type) of every column the app's statements bind or read."""
    used = set()
    for statement in repository.prepared:
        # The driver describes each column as (keyspace, table, name, type).
        for keyspace, table, name, cql_type in [
            *statement.column_metadata,
            *(statement.result_metadata or []),
        ]:
            if keyspace.startswith("system") or name.startswith("["):
                continue  # system.local (readiness), LIMIT markers, [applied]
            type_name = cql_type.cql_parameterized_type()
            used.add((table, name, _ALIASES.get(type_name, type_name)))
    return used


def _assert_matches(tables: dict[str, dict], repository) -> None:
    used = _used_columns(repository)
    assert len(used) > 15
    for table, column, cql_type in used:
        assert table in tables, f"the app queries {table}, which Terraform does not create"
        declared = {c["name"]: c["type"] for c in tables[table]["column"]}
        assert declared.get(column) == cql_type, f"{table}.{column}: app {cql_type}, TF {declared}"
    checkins = tables[CHECKINS_BY_DEVICE_DAY]
    # Paging walks one (device, day) partition in (ts DESC, checkin_id ASC) order.
    assert [k["name"] for k in checkins["partition_key"]] == ["device_id", "day"]
    assert [(k["name"], k["order_by"]) for k in checkins["clustering_key"]] == [
        ("ts", "DESC"),
        ("checkin_id", "ASC"),
    ]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_app_statements_match_the_environment_stacks(synthesized, repository, env):
    tables = _tables(synthesized.stacks[env])
    assert tables, f"the {env} stack creates no aws_keyspaces_table"
    _assert_matches(tables, repository)
