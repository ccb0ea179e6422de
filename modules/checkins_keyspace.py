"""Amazon Keyspaces: the check-ins keyspace and one table per table of `checkins_data.schema`.

The tables are rendered from the same objects the app and the cleanup job build their CQL from,
so Terraform cannot create a table the code does not expect. Every table is encrypted with a
customer-managed KMS key, has point-in-time recovery and on-demand capacity; tables with a
default TTL get TTL enabled. Tags come from the provider's `default_tags`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from cdktf import TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.keyspaces_keyspace import (
    KeyspacesKeyspace,
    KeyspacesKeyspaceReplicationSpecification,
)
from cdktf_cdktf_provider_aws.keyspaces_table import (
    KeyspacesTable,
    KeyspacesTableCapacitySpecification,
    KeyspacesTableComment,
    KeyspacesTableEncryptionSpecification,
    KeyspacesTablePointInTimeRecovery,
    KeyspacesTableSchemaDefinition,
    KeyspacesTableSchemaDefinitionClusteringKey,
    KeyspacesTableSchemaDefinitionColumn,
    KeyspacesTableSchemaDefinitionPartitionKey,
    KeyspacesTableTtl,
)
from checkins_data.schema import (
    DEFAULT_KEYSPACE,
    DEFAULT_SAFETY_TTL_DAYS,
    Schema,
    Table,
    build_schema,
)
from constructs import Construct

from modules.aws_target import AwsTarget
from modules.policy import Statement
from modules.props import PropsError, check_arn, require


@dataclass(frozen=True)
class CheckinsKeyspaceProps:
    """Props of `CheckinsKeyspace`."""

    target: AwsTarget
    """Account, region (the provider's) and partition of the exposed ARNs."""
    kms_key_arn: str
    """ARN of the customer-managed KMS key that encrypts every table (an alias is not accepted
    by Keyspaces). Required: there is no AWS-owned-key opt-out."""
    keyspace_name: str = DEFAULT_KEYSPACE
    """@default "checkins" """
    safety_ttl_days: int = DEFAULT_SAFETY_TTL_DAYS
    """Default TTL of the day-based tables, a safety net longer than the archive retention.
    @default 400"""
    point_in_time_recovery: bool = True
    """Continuous backups (35 days of restore points). @default True"""
    prevent_destroy: bool = True
    """Terraform refuses to destroy the keyspace and tables. Opt out for throw-away
    environments. @default True"""

    def __post_init__(self) -> None:
        # Keyspaces accepts a key ARN only: an alias is refused.
        check_arn(
            "CheckinsKeyspaceProps.kms_key_arn", self.kms_key_arn, service="kms", resource="key/"
        )
        require(
            self.safety_ttl_days >= 1,
            "CheckinsKeyspaceProps.safety_ttl_days",
            self.safety_ttl_days,
            "must be at least 1",
        )
        try:  # the keyspace name and the TTL, as the schema checks them for the CQL side
            build_schema(self.keyspace_name, safety_ttl_days=self.safety_ttl_days)
        except ValueError as exc:
            raise PropsError(
                "CheckinsKeyspaceProps.keyspace_name", self.keyspace_name, str(exc)
            ) from None

    @cached_property
    def schema(self) -> Schema:
        return build_schema(self.keyspace_name, safety_ttl_days=self.safety_ttl_days)


def schema_definition(table: Table) -> KeyspacesTableSchemaDefinition:
    """`schema_definition` of `aws_keyspaces_table`: every column (key columns included, as the
    Keyspaces API expects), the partition key in order, the clustering key with its order."""
    columns = [
        KeyspacesTableSchemaDefinitionColumn(name=c.name, type=c.cql_type) for c in table.columns
    ]
    partition = [KeyspacesTableSchemaDefinitionPartitionKey(name=n) for n in table.partition_key]
    clustering = [
        KeyspacesTableSchemaDefinitionClusteringKey(name=c.name, order_by=c.order)
        for c in table.clustering
    ]
    return KeyspacesTableSchemaDefinition(
        column=columns, partition_key=partition, clustering_key=clustering or None
    )


class CheckinsKeyspace(Construct):
    """The keyspace and its tables.

    Attributes: `keyspace_name`, `keyspace_arn`, `table_arns` (name -> ARN),
    `system_keyspaces_arn`. Grants: `access_statements(...)` for the IAM policies of the roles
    that use the tables.
    """

    def __init__(self, scope: Construct, id_: str, props: CheckinsKeyspaceProps) -> None:
        super().__init__(scope, id_)
        schema = props.schema
        lifecycle = TerraformResourceLifecycle(prevent_destroy=props.prevent_destroy)
        keyspace = KeyspacesKeyspace(
            self,
            "keyspace",
            name=props.keyspace_name,
            replication_specification=KeyspacesKeyspaceReplicationSpecification(
                replication_strategy="SINGLE_REGION"
            ),
            lifecycle=lifecycle,
        )
        for table in schema.tables:
            ttl = table.default_ttl_seconds
            KeyspacesTable(
                self,
                f"table-{table.name}",
                # A reference, so Terraform creates the keyspace first.
                keyspace_name=keyspace.name,
                table_name=table.name,
                schema_definition=schema_definition(table),
                comment=KeyspacesTableComment(message=table.purpose) if table.purpose else None,
                capacity_specification=KeyspacesTableCapacitySpecification(
                    throughput_mode="PAY_PER_REQUEST"
                ),
                encryption_specification=KeyspacesTableEncryptionSpecification(
                    type="CUSTOMER_MANAGED_KMS_KEY", kms_key_identifier=props.kms_key_arn
                ),
                point_in_time_recovery=KeyspacesTablePointInTimeRecovery(
                    status="ENABLED" if props.point_in_time_recovery else "DISABLED"
                ),
                # Keyspaces applies a default TTL only on tables with TTL enabled.
                ttl=KeyspacesTableTtl(status="ENABLED") if ttl is not None else None,
                default_time_to_live=ttl,
                lifecycle=lifecycle,
            )

        name = props.keyspace_name
        self.keyspace_name: str = name
        self.keyspace_arn: str = props.target.arn("cassandra", f"/keyspace/{name}/")
        self.table_arns: dict[str, str] = {
            t.name: props.target.arn("cassandra", f"/keyspace/{name}/table/{t.name}")
            for t in schema.tables
        }
        # The driver reads system, system_schema and system_schema_mcs to learn the
        # topology and the schema; Keyspaces checks cassandra:Select on them.
        self.system_keyspaces_arn: str = props.target.arn("cassandra", "/keyspace/system*")

    def access_statements(
        self, sid: str, *, tables: tuple[str, ...] | None = None, write: bool = True
    ) -> tuple[Statement, ...]:
        """IAM statements for a role using `tables` (default: all): Select (and Modify if
        `write`) on exactly those tables, plus Select on the system keyspaces."""
        names = tables if tables is not None else tuple(self.table_arns)
        unknown = sorted(set(names) - set(self.table_arns))
        if unknown:
            raise PropsError("access_statements.tables", unknown, "unknown tables")
        actions = ["cassandra:Select", "cassandra:Modify"] if write else ["cassandra:Select"]
        return (
            Statement(
                sid=f"{sid}Tables",
                actions=actions,
                resources=[self.table_arns[n] for n in names],
            ),
            Statement(
                sid=f"{sid}SystemTables",
                actions=["cassandra:Select"],
                resources=[self.system_keyspaces_arn],
            ),
        )
