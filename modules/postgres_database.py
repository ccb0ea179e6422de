"""RDS for PostgreSQL in the isolated subnets: a single or Multi-AZ instance, or (for readable
standbys) a Multi-AZ DB cluster. Storage, Performance Insights and the RDS-managed master
secret are encrypted with customer keys; TLS is forced by the parameter group; IAM database
authentication is on (the workloads log in with a token, the master secret is for migrations
only); the exported logs go to log groups created first, with a key and a retention.

Who may connect is decided by security groups: the construct creates one per client (the
auth service, its migration task), each the only way in on the database port."""

from __future__ import annotations

import re
from dataclasses import dataclass

from cdktf import TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.db_instance import DbInstance
from cdktf_cdktf_provider_aws.db_parameter_group import (
    DbParameterGroup,
    DbParameterGroupParameter,
)
from cdktf_cdktf_provider_aws.db_subnet_group import DbSubnetGroup
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from cdktf_cdktf_provider_aws.rds_cluster import RdsCluster
from cdktf_cdktf_provider_aws.rds_cluster_parameter_group import (
    RdsClusterParameterGroup,
    RdsClusterParameterGroupParameter,
)
from cdktf_cdktf_provider_aws.security_group import SecurityGroup
from cdktf_cdktf_provider_aws.vpc_security_group_egress_rule import VpcSecurityGroupEgressRule
from cdktf_cdktf_provider_aws.vpc_security_group_ingress_rule import VpcSecurityGroupIngressRule
from constructs import Construct

from modules.aws_target import AwsTarget
from modules.policy import Statement, service_assume_role_policy
from modules.props import check_arn, require
from modules.rds_limits import (
    CLUSTER_INSTANCE_FAMILIES,
    MONITORING_INTERVALS,
    SUPPORTED_MAJORS,
    valid_insights_retention,
    valid_instance_class,
)

PORT = 5432
# The RSA 2048 CA (valid to 2061); clients verify against AWS's global bundle, which holds it.
CA_CERTIFICATE = "rds-ca-rsa2048-g1"
# UTC, apart from each other; the maintenance window is when minor upgrades happen.
BACKUP_WINDOW = "02:00-03:00"
MAINTENANCE_WINDOW = "sun:03:30-sun:04:30"
ENHANCED_MONITORING_POLICY = "service-role/AmazonRDSEnhancedMonitoringRole"
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9-]{0,52}[a-z0-9]$")


@dataclass(frozen=True)
class PostgresDatabaseProps:
    """Props of `PostgresDatabase`."""

    identifier: str
    """Instance or cluster identifier (unique per account and region), e.g. `checkins-prod-auth`."""
    target: AwsTarget
    vpc_id: str
    subnet_ids: tuple[str, ...]
    """Subnets of the subnet group, one per zone (the isolated tier)."""
    client_names: tuple[str, ...]
    """One security group per client (e.g. `auth-service`, `auth-migration`), the only sources
    admitted on the port; its name is `<identifier>-<client>`."""
    storage_kms_key_arn: str
    """Key of the storage, snapshots and Performance Insights (a key ARN: an alias makes every
    plan replace the database)."""
    secret_kms_key_arn: str
    """Key of the RDS-managed master secret."""
    log_kms_key_arn: str
    log_retention_days: int
    engine_major: int = 17
    """@default 17"""
    instance_class: str = "db.t4g.micro"
    """@default db.t4g.micro"""
    allocated_storage_gb: int = 20
    """@default 20"""
    max_allocated_storage_gb: int | None = None
    """Storage autoscaling ceiling (instances only). @default None (off)"""
    multi_az: bool = False
    """@default False"""
    readable_standbys: bool = False
    """A Multi-AZ DB cluster instead of an instance. @default False"""
    backup_retention_days: int = 7
    """@default 7"""
    monitoring_interval_seconds: int = 60
    """@default 60"""
    insights_retention_days: int = 7
    """@default 7"""
    slow_statement_ms: int = 500
    """@default 500"""
    database_name: str = "auth"
    """@default auth"""
    master_username: str = "postgres_admin"
    """Owner of the schema; used only by migrations. @default postgres_admin"""
    deletion_protection: bool = True
    """AWS deletion protection, a final snapshot on destroy, backups kept after it, and
    Terraform's `prevent_destroy`. @default True"""

    def __post_init__(self) -> None:
        require(
            _IDENTIFIER.match(self.identifier) is not None and "--" not in self.identifier,
            "PostgresDatabaseProps.identifier",
            self.identifier,
            "is not an RDS identifier (lower-case letter first, letters, digits, single hyphens, "
            "at most 54 characters)",
        )
        require(
            len(self.subnet_ids) >= 2,
            "PostgresDatabaseProps.subnet_ids",
            self.subnet_ids,
            "a DB subnet group needs subnets in at least two zones",
        )
        require(
            bool(self.client_names)
            and all(re.fullmatch(r"[a-z][a-z0-9-]{0,30}", c) for c in self.client_names)
            and len(set(self.client_names)) == len(self.client_names),
            "PostgresDatabaseProps.client_names",
            self.client_names,
            "must name at least one client, distinct lower-case names",
        )
        require(
            self.engine_major in SUPPORTED_MAJORS,
            "PostgresDatabaseProps.engine_major",
            self.engine_major,
            f"is not one of {SUPPORTED_MAJORS}",
        )
        require(
            valid_instance_class(self.instance_class),
            "PostgresDatabaseProps.instance_class",
            self.instance_class,
            "is not an RDS PostgreSQL instance class",
        )
        require(
            20 <= self.allocated_storage_gb <= 65536,
            "PostgresDatabaseProps.allocated_storage_gb",
            self.allocated_storage_gb,
            "is outside 20..65536",
        )
        ceiling = self.max_allocated_storage_gb
        require(
            ceiling is None or (self.allocated_storage_gb < ceiling <= 65536),
            "PostgresDatabaseProps.max_allocated_storage_gb",
            ceiling,
            "must exceed allocated_storage_gb, at most 65536",
        )
        require(
            1 <= self.backup_retention_days <= 35,
            "PostgresDatabaseProps.backup_retention_days",
            self.backup_retention_days,
            "is outside 1..35",
        )
        require(
            self.monitoring_interval_seconds in MONITORING_INTERVALS,
            "PostgresDatabaseProps.monitoring_interval_seconds",
            self.monitoring_interval_seconds,
            f"is not one of {MONITORING_INTERVALS}",
        )
        require(
            valid_insights_retention(self.insights_retention_days),
            "PostgresDatabaseProps.insights_retention_days",
            self.insights_retention_days,
            "must be 7, 731 or a multiple of 31",
        )
        if self.readable_standbys:
            family = self.instance_class.split(".")[1]
            require(
                self.multi_az and family in CLUSTER_INSTANCE_FAMILIES and ceiling is None,
                "PostgresDatabaseProps.readable_standbys",
                self.instance_class,
                "a Multi-AZ DB cluster needs multi_az, a class of "
                f"{CLUSTER_INSTANCE_FAMILIES} and no storage autoscaling",
            )
        for field in ("storage_kms_key_arn", "secret_kms_key_arn", "log_kms_key_arn"):
            check_arn(f"PostgresDatabaseProps.{field}", getattr(self, field), service="kms")


class PostgresDatabase(Construct):
    """Attributes: `identifier`, `address` (the writer's host name), `reader_address` (None
    without readable standbys), `port`, `resource_id` (of `rds-db:connect` ARNs),
    `master_secret_arn`, `security_group_id`, `client_security_group_ids` (by client name),
    `log_group_names`; `connect_statement(db_user)` and `master_secret_statements()` build what
    the workloads' roles need."""

    def __init__(self, scope: Construct, id_: str, props: PostgresDatabaseProps) -> None:
        super().__init__(scope, id_)
        self._props = props
        name = props.identifier
        self.identifier: str = name
        self.port: int = PORT

        subnet_group = DbSubnetGroup(
            self,
            "subnet-group",
            name=name,
            description=f"Isolated subnets of {name}",
            subnet_ids=list(props.subnet_ids),
            tags={"Name": name},
        )
        self.security_group_id, self.client_security_group_ids = self._security_groups(props)
        kind = "cluster" if props.readable_standbys else "instance"
        exports = ["postgresql"] if props.readable_standbys else ["postgresql", "upgrade"]
        # RDS creates these on the first export, unencrypted and kept for ever: create them first.
        log_groups = [
            CloudwatchLogGroup(
                self,
                f"log-group-{export}",
                name=f"/aws/rds/{kind}/{name}/{export}",
                kms_key_id=props.log_kms_key_arn,
                retention_in_days=props.log_retention_days,
                tags={"Name": f"/aws/rds/{kind}/{name}/{export}"},
            )
            for export in exports
        ]
        self.log_group_names: list[str] = [f"/aws/rds/{kind}/{name}/{e}" for e in exports]
        monitoring = self._monitoring_role(props) if props.monitoring_interval_seconds else None
        monitoring_role_arn = monitoring[0] if monitoring else None

        protected = props.deletion_protection
        common = dict(
            engine="postgres",
            # The major only: minors upgrade in the maintenance window without a plan diff.
            engine_version=str(props.engine_major),
            # After standard support ends, upgrade rather than pay for Extended Support.
            engine_lifecycle_support="open-source-rds-extended-support-disabled",
            db_subnet_group_name=subnet_group.name,
            vpc_security_group_ids=[self.security_group_id],
            port=PORT,
            storage_encrypted=True,
            kms_key_id=props.storage_kms_key_arn,
            storage_type="gp3",
            allocated_storage=props.allocated_storage_gb,
            manage_master_user_password=True,
            master_user_secret_kms_key_id=props.secret_kms_key_arn,
            iam_database_authentication_enabled=True,
            backup_retention_period=props.backup_retention_days,
            copy_tags_to_snapshot=True,
            deletion_protection=protected,
            skip_final_snapshot=not protected,
            final_snapshot_identifier=f"{name}-final" if protected else None,
            apply_immediately=not protected,
            enabled_cloudwatch_logs_exports=exports,
            monitoring_interval=props.monitoring_interval_seconds,
            monitoring_role_arn=monitoring_role_arn,
            performance_insights_enabled=True,
            performance_insights_kms_key_id=props.storage_kms_key_arn,
            performance_insights_retention_period=props.insights_retention_days,
            database_insights_mode="standard",
            network_type="IPV4",
            tags={"Name": name},
            # Log groups first (else RDS creates them unencrypted, without retention); the
            # monitoring policy first, so the first metrics are not refused.
            depends_on=[*log_groups, *([monitoring[1]] if monitoring else [])],
            lifecycle=TerraformResourceLifecycle(prevent_destroy=True) if protected else None,
        )
        parameters = {
            "rds.force_ssl": "1",
            "ssl_min_protocol_version": "TLSv1.2",
            "log_min_duration_statement": str(props.slow_statement_ms),
            # Schema changes are rare and worth an audit line each.
            "log_statement": "ddl",
        }
        if props.readable_standbys:
            group = RdsClusterParameterGroup(
                self,
                "parameter-group",
                # A new major needs a new family, hence a new group next to the old one.
                name=f"{name}-postgres{props.engine_major}",
                family=f"postgres{props.engine_major}",
                description=f"TLS only, slow statements logged: {name}",
                parameter=[
                    RdsClusterParameterGroupParameter(name=k, value=v)
                    for k, v in sorted(parameters.items())
                ],
                lifecycle=TerraformResourceLifecycle(create_before_destroy=True),
                tags={"Name": name},
            )
            cluster = RdsCluster(
                self,
                "cluster",
                cluster_identifier=name,
                database_name=props.database_name,
                master_username=props.master_username,
                preferred_backup_window=BACKUP_WINDOW,
                preferred_maintenance_window=MAINTENANCE_WINDOW,
                ca_certificate_identifier=CA_CERTIFICATE,
                db_cluster_instance_class=props.instance_class,
                db_cluster_parameter_group_name=group.name,
                delete_automated_backups=not protected,
                **common,
            )
            self.address: str = cluster.endpoint
            self.reader_address: str | None = cluster.reader_endpoint
            self.resource_id: str = cluster.cluster_resource_id
            self.master_secret_arn: str = cluster.master_user_secret.get(0).secret_arn
        else:
            group = DbParameterGroup(
                self,
                "parameter-group",
                name=f"{name}-postgres{props.engine_major}",
                family=f"postgres{props.engine_major}",
                description=f"TLS only, slow statements logged: {name}",
                parameter=[
                    DbParameterGroupParameter(name=k, value=v)
                    for k, v in sorted(parameters.items())
                ],
                lifecycle=TerraformResourceLifecycle(create_before_destroy=True),
                tags={"Name": name},
            )
            instance = DbInstance(
                self,
                "instance",
                identifier=name,
                db_name=props.database_name,
                username=props.master_username,
                backup_window=BACKUP_WINDOW,
                maintenance_window=MAINTENANCE_WINDOW,
                instance_class=props.instance_class,
                parameter_group_name=group.name,
                max_allocated_storage=props.max_allocated_storage_gb,
                multi_az=props.multi_az,
                publicly_accessible=False,
                ca_cert_identifier=CA_CERTIFICATE,
                auto_minor_version_upgrade=True,
                delete_automated_backups=not protected,
                **common,
            )
            self.address = instance.address
            self.reader_address = None
            self.resource_id = instance.resource_id
            self.master_secret_arn = instance.master_user_secret.get(0).secret_arn

    def _security_groups(self, props: PostgresDatabaseProps) -> tuple[str, dict[str, str]]:
        name = props.identifier
        # No egress rule: the database starts no connection of its own.
        database = SecurityGroup(
            self,
            "security-group",
            name=name,
            description=f"PostgreSQL {name}: port {PORT} from its clients' groups only",
            vpc_id=props.vpc_id,
            tags={"Name": name},
        )
        clients: dict[str, str] = {}
        for client in sorted(props.client_names):
            group = SecurityGroup(
                self,
                f"client-{client}",
                name=f"{name}-{client}",
                description=f"{client}: a client of the PostgreSQL {name}",
                vpc_id=props.vpc_id,
                tags={"Name": f"{name}-{client}"},
            )
            VpcSecurityGroupIngressRule(
                self,
                f"ingress-{client}",
                security_group_id=database.id,
                ip_protocol="tcp",
                from_port=PORT,
                to_port=PORT,
                referenced_security_group_id=group.id,
                description=f"PostgreSQL from {client}",
            )
            VpcSecurityGroupEgressRule(
                self,
                f"egress-{client}",
                security_group_id=group.id,
                ip_protocol="tcp",
                from_port=PORT,
                to_port=PORT,
                referenced_security_group_id=database.id,
                description=f"PostgreSQL to {name}",
            )
            clients[client] = group.id
        return database.id, clients

    def _monitoring_role(self, props: PostgresDatabaseProps) -> tuple[str, IamRolePolicyAttachment]:
        target = props.target
        name = f"{props.identifier}-monitoring"
        # A cluster's member instances are named after the cluster.
        member = f"db:{props.identifier}*" if props.readable_standbys else f"db:{props.identifier}"
        role = IamRole(
            self,
            "monitoring-role",
            name=name,
            description=f"Enhanced Monitoring of {props.identifier}",
            assume_role_policy=service_assume_role_policy(
                "monitoring.rds.amazonaws.com",
                target.account_id,
                source_arn=target.arn("rds", member),
            ),
            tags={"Name": name},
        )
        attachment = IamRolePolicyAttachment(
            self,
            "monitoring-policy",
            role=role.name,
            # AWS's managed policy: writes to the RDSOSMetrics log group only.
            policy_arn=f"arn:{target.partition}:iam::aws:policy/{ENHANCED_MONITORING_POLICY}",
        )
        return role.arn, attachment

    def connect_statement(self, db_user: str) -> Statement:
        """`rds-db:connect` as one database user, by the database's resource id."""
        require(
            re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", db_user) is not None,
            "PostgresDatabase.connect_statement.db_user",
            db_user,
            "is not a PostgreSQL role name",
        )
        return Statement(
            sid="ConnectsAsDatabaseUser",
            actions=["rds-db:connect"],
            resources=[self._props.target.arn("rds-db", f"dbuser:{self.resource_id}/{db_user}")],
        )

    def master_secret_statements(self) -> tuple[Statement, ...]:
        """What the migration task's execution role needs to inject the master secret."""
        target = self._props.target
        return (
            Statement(
                sid="ReadsMasterSecret",
                actions=["secretsmanager:GetSecretValue"],
                resources=[self.master_secret_arn],
            ),
            Statement(
                sid="DecryptsMasterSecret",
                actions=["kms:Decrypt"],
                resources=[self._props.secret_kms_key_arn],
                conditions={
                    "StringEquals": {"kms:ViaService": target.service_principal("secretsmanager")}
                },
            ),
        )
