"""Amazon Keyspaces: the check-ins keyspace and one table per table of `checkins_data.schema`.

The tables are rendered from the same objects the app and the cleanup job build their CQL from,
so Terraform cannot create a table the code does not expect. Every table is encrypted with a
customer-managed KMS key and has point-in-time recovery; tables with a default TTL get TTL
enabled. Capacity is on-demand unless a table is given provisioned capacity, which Application
Auto Scaling then tracks to a target utilization. Tags come from the provider's `default_tags`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from cdktf import TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.appautoscaling_policy import (
    AppautoscalingPolicy,
    AppautoscalingPolicyTargetTrackingScalingPolicyConfiguration,
    AppautoscalingPolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecification,
)
from cdktf_cdktf_provider_aws.appautoscaling_target import AppautoscalingTarget
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

# Per-table throughput quota of a new account (capacity units per second).
MAX_TABLE_UNITS = 40_000


@dataclass(frozen=True)
class TableCapacity:
    """Provisioned capacity of one table: Application Auto Scaling keeps the consumed share of
    it near `target_utilization_percent`, between the minimum and the maximum units."""

    min_read_units: int
    max_read_units: int
    min_write_units: int
    max_write_units: int
    target_utilization_percent: int = 70
    """Keyspaces accepts 20..90. @default 70"""

    def __post_init__(self) -> None:
        for kind in ("read", "write"):
            low = getattr(self, f"min_{kind}_units")
            high = getattr(self, f"max_{kind}_units")
            require(
                1 <= low <= MAX_TABLE_UNITS,
                f"TableCapacity.min_{kind}_units",
                low,
                f"is outside 1..{MAX_TABLE_UNITS}",
            )
            require(
                low <= high <= MAX_TABLE_UNITS,
                f"TableCapacity.max_{kind}_units",
                high,
                f"is outside min_{kind}_units..{MAX_TABLE_UNITS}",
            )
        require(
            20 <= self.target_utilization_percent <= 90,
            "TableCapacity.target_utilization_percent",
            self.target_utilization_percent,
            "is outside 20..90",
        )


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
    provisioned: Mapping[str, TableCapacity] = field(default_factory=dict)
    """Tables (by name) with provisioned, auto-scaled capacity; every other table is on-demand.
    @default {} (all on-demand: no capacity to plan, pay per request)"""
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
        unknown = sorted(set(self.provisioned) - {t.name for t in self.schema.tables})
        require(
            not unknown,
            "CheckinsKeyspaceProps.provisioned",
            unknown,
            "names tables the schema does not have",
        )

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


def _capacity_specification(
    capacity: TableCapacity | None,
) -> KeyspacesTableCapacitySpecification:
    if capacity is None:
        return KeyspacesTableCapacitySpecification(throughput_mode="PAY_PER_REQUEST")
    return KeyspacesTableCapacitySpecification(
        throughput_mode="PROVISIONED",
        read_capacity_units=capacity.min_read_units,
        write_capacity_units=capacity.min_write_units,
    )


def _table_lifecycle(prevent_destroy: bool, *, scaled: bool) -> TerraformResourceLifecycle:
    # Auto Scaling moves the provisioned units: Terraform must not set them back on every apply.
    ignored = (
        [
            "capacity_specification[0].read_capacity_units",
            "capacity_specification[0].write_capacity_units",
        ]
        if scaled
        else None
    )
    return TerraformResourceLifecycle(prevent_destroy=prevent_destroy, ignore_changes=ignored)


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
            capacity = props.provisioned.get(table.name)
            resource = KeyspacesTable(
                self,
                f"table-{table.name}",
                # A reference, so Terraform creates the keyspace first.
                keyspace_name=keyspace.name,
                table_name=table.name,
                schema_definition=schema_definition(table),
                comment=KeyspacesTableComment(message=table.purpose) if table.purpose else None,
                capacity_specification=_capacity_specification(capacity),
                encryption_specification=KeyspacesTableEncryptionSpecification(
                    type="CUSTOMER_MANAGED_KMS_KEY", kms_key_identifier=props.kms_key_arn
                ),
                point_in_time_recovery=KeyspacesTablePointInTimeRecovery(
                    status="ENABLED" if props.point_in_time_recovery else "DISABLED"
                ),
                # Keyspaces applies a default TTL only on tables with TTL enabled.
                ttl=KeyspacesTableTtl(status="ENABLED") if ttl is not None else None,
                default_time_to_live=ttl,
                lifecycle=_table_lifecycle(props.prevent_destroy, scaled=capacity is not None),
            )
            if capacity is not None:
                self._autoscaling(table.name, resource, capacity)

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

    def _autoscaling(self, name: str, table: KeyspacesTable, capacity: TableCapacity) -> None:
        # References to the table, so each target is registered after its table exists.
        resource_id = f"keyspace/{table.keyspace_name}/table/{table.table_name}"
        for kind, low, high in (
            ("Read", capacity.min_read_units, capacity.max_read_units),
            ("Write", capacity.min_write_units, capacity.max_write_units),
        ):
            target = AppautoscalingTarget(
                self,
                f"scaling-{name}-{kind.lower()}",
                service_namespace="cassandra",
                resource_id=resource_id,
                scalable_dimension=f"cassandra:table:{kind}CapacityUnits",
                min_capacity=low,
                max_capacity=high,
            )
            AppautoscalingPolicy(
                self,
                f"scaling-{name}-{kind.lower()}-policy",
                name=f"{name}-{kind.lower()}-utilization",
                policy_type="TargetTrackingScaling",
                service_namespace=target.service_namespace,
                resource_id=target.resource_id,
                scalable_dimension=target.scalable_dimension,
                target_tracking_scaling_policy_configuration=(
                    AppautoscalingPolicyTargetTrackingScalingPolicyConfiguration(
                        target_value=capacity.target_utilization_percent,
                        predefined_metric_specification=AppautoscalingPolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecification(
                            predefined_metric_type=f"Cassandra{kind}CapacityUtilization"
                        ),
                    )
                ),
            )

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
