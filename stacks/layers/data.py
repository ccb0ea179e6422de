"""Data: the keys that encrypt the data stores and their secrets, the auth service's RDS
PostgreSQL, the Keyspaces keyspace, and the cleanup job's archive bucket with its access-log
bucket."""

from __future__ import annotations

from dataclasses import dataclass

from cdktf import TerraformStack

from modules.archive_bucket import ArchiveBucket, ArchiveBucketProps
from modules.aws_target import AwsTarget
from modules.checkins_keyspace import CheckinsKeyspace, CheckinsKeyspaceProps, TableCapacity
from modules.encryption_key import EncryptionKey, EncryptionKeyProps
from modules.network import Network
from modules.postgres_database import PostgresDatabase, PostgresDatabaseProps
from modules.secure_bucket import (
    AccessLogTarget,
    ObjectLock,
    SecureBucket,
    SecureBucketProps,
    Transition,
    log_delivery_statement,
)
from settings import DataSettings
from settings.archive import ArchiveSettings, ObjectLockMode
from settings.database import DatabaseSettings
from stacks.naming import Names


@dataclass(frozen=True)
class Data:
    data_key: EncryptionKey
    secrets_key: EncryptionKey
    keyspace: CheckinsKeyspace
    database: PostgresDatabase
    archive: ArchiveBucket
    access_log_bucket: SecureBucket


def build_data(
    stack: TerraformStack,
    names: Names,
    target: AwsTarget,
    cfg: DataSettings,
    network: Network,
    *,
    logs_key_arn: str,
    log_retention_days: int,
    deletion_protection: bool,
) -> Data:
    archive_name = names.bucket("archive", target.account_id)
    data_key = EncryptionKey(
        stack,
        "data-key",
        EncryptionKeyProps(
            alias=names.unique("data"),
            description=f"Encrypts the data stores (RDS, Keyspaces, the archive) of {names.prefix}",
            target=target,
            via_services=(target.service_principal("cassandra"), target.service_principal("rds")),
            extra_statements=ArchiveBucket.key_policy_statements(target, archive_name),
            prevent_destroy=deletion_protection,
        ),
    )
    # Secrets get their own key: who may read a secret is then decided by the key policy and
    # the secret's resource policy together, apart from who may read the data it guards.
    secrets_key = EncryptionKey(
        stack,
        "secrets-key",
        EncryptionKeyProps(
            alias=names.unique("secrets"),
            description=f"Encrypts the Secrets Manager secrets of {names.prefix}",
            target=target,
            via_services=(target.service_principal("secretsmanager"),),
            direct_use=False,
            prevent_destroy=deletion_protection,
        ),
    )
    keyspace = CheckinsKeyspace(
        stack,
        "keyspaces",
        CheckinsKeyspaceProps(
            target=target,
            kms_key_arn=data_key.key_arn,
            # Unique per account and region: environments sharing an account need their own.
            keyspace_name=cfg.keyspace_name or names.keyspace,
            provisioned={
                table: TableCapacity(**capacity.model_dump())
                for table, capacity in sorted(cfg.provisioned_tables.items())
            },
            prevent_destroy=deletion_protection,
        ),
    )
    database = _database(
        stack,
        names,
        target,
        cfg.database,
        network,
        storage_kms_key_arn=data_key.key_arn,
        secret_kms_key_arn=secrets_key.key_arn,
        logs_key_arn=logs_key_arn,
        log_retention_days=log_retention_days,
        deletion_protection=deletion_protection,
    )
    access_log_bucket, archive = _archive(
        stack,
        names,
        target,
        cfg.archive,
        archive_name=archive_name,
        kms_key_arn=data_key.key_arn,
        log_retention_days=log_retention_days,
        deletion_protection=deletion_protection,
    )
    return Data(
        data_key=data_key,
        secrets_key=secrets_key,
        keyspace=keyspace,
        database=database,
        archive=archive,
        access_log_bucket=access_log_bucket,
    )


def _database(
    stack: TerraformStack,
    names: Names,
    target: AwsTarget,
    cfg: DatabaseSettings,
    network: Network,
    *,
    storage_kms_key_arn: str,
    secret_kms_key_arn: str,
    logs_key_arn: str,
    log_retention_days: int,
    deletion_protection: bool,
) -> PostgresDatabase:
    return PostgresDatabase(
        stack,
        "database",
        PostgresDatabaseProps(
            identifier=names.database,
            target=target,
            vpc_id=network.vpc_id,
            subnet_ids=tuple(network.isolated_subnet_ids),
            client_names=("auth-service", "auth-migration"),
            storage_kms_key_arn=storage_kms_key_arn,
            secret_kms_key_arn=secret_kms_key_arn,
            log_kms_key_arn=logs_key_arn,
            log_retention_days=log_retention_days,
            engine_major=cfg.engine_major,
            instance_class=cfg.instance_class,
            allocated_storage_gb=cfg.allocated_storage_gb,
            # A Multi-AZ DB cluster has no storage autoscaling (settings refuse the pair).
            max_allocated_storage_gb=cfg.max_allocated_storage_gb,
            multi_az=cfg.multi_az,
            readable_standbys=cfg.read_scale_out,
            backup_retention_days=cfg.backup_retention_days,
            monitoring_interval_seconds=cfg.monitoring_interval_seconds,
            insights_retention_days=cfg.insights_retention_days,
            slow_statement_ms=cfg.slow_statement_ms,
            database_name=cfg.database_name,
            deletion_protection=deletion_protection,
        ),
    )


def _archive(
    stack: TerraformStack,
    names: Names,
    target: AwsTarget,
    cfg: ArchiveSettings,
    *,
    archive_name: str,
    kms_key_arn: str,
    log_retention_days: int,
    deletion_protection: bool,
) -> tuple[SecureBucket, ArchiveBucket]:
    log_bucket_name = names.bucket("access-logs", target.account_id)
    # S3 server access logs can only be delivered to an SSE-S3 bucket, and a log bucket logging
    # to itself would loop: this one is encrypted with SSE-S3 and not logged. One per
    # environment, for every bucket of the environment (a prefix each).
    log_bucket = SecureBucket(
        stack,
        "access-log-bucket",
        SecureBucketProps(
            bucket_name=log_bucket_name,
            target=target,
            kms_key_arn=None,
            expire_current_after_days=log_retention_days,
            noncurrent_version_days=30,
            extra_statements=(
                log_delivery_statement(target, log_bucket_name, "archive/", archive_name),
            ),
            prevent_destroy=deletion_protection,
        ),
    )
    lock = (
        None
        if cfg.object_lock is ObjectLockMode.OFF
        else ObjectLock(mode=cfg.object_lock.value.upper(), days=cfg.object_lock_days)
    )
    archive = ArchiveBucket(
        stack,
        "archive",
        ArchiveBucketProps(
            bucket_name=archive_name,
            target=target,
            kms_key_arn=kms_key_arn,
            access_logs=AccessLogTarget(bucket=log_bucket, prefix="archive/"),
            transition=Transition(days=cfg.transition_days, storage_class=cfg.storage_class),
            expire_after_days=cfg.expire_after_days,
            object_lock=lock,
            prevent_destroy=deletion_protection,
        ),
    )
    return log_bucket, archive
