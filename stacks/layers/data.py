"""Data: the keys that encrypt the data stores and their secrets, and the Keyspaces keyspace."""

from __future__ import annotations

from dataclasses import dataclass

from cdktf import TerraformStack

from modules.aws_target import AwsTarget
from modules.checkins_keyspace import CheckinsKeyspace, CheckinsKeyspaceProps, TableCapacity
from modules.encryption_key import EncryptionKey, EncryptionKeyProps
from settings import DataSettings
from stacks.naming import Names


@dataclass(frozen=True)
class Data:
    data_key: EncryptionKey
    secrets_key: EncryptionKey
    keyspace: CheckinsKeyspace


def build_data(
    stack: TerraformStack,
    names: Names,
    target: AwsTarget,
    cfg: DataSettings,
    *,
    deletion_protection: bool,
) -> Data:
    data_key = EncryptionKey(
        stack,
        "data-key",
        EncryptionKeyProps(
            alias=names.unique("data"),
            description=f"Encrypts the Keyspaces tables of {names.prefix}",
            target=target,
            via_services=(target.service_principal("cassandra"),),
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
    return Data(data_key=data_key, secrets_key=secrets_key, keyspace=keyspace)
