"""Test keyspaces on a local Cassandra node: connection settings for it, and a keyspace with the
whole `checkins_data` schema (used by the test fixtures and the benchmarks)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from devtools.cassandra_server import NodeInfo

if TYPE_CHECKING:
    from cassandra.cluster import Session
    from checkins_data.connection import KeyspacesSettings


def node_settings(node: NodeInfo, keyspace: str) -> KeyspacesSettings:
    """Connection settings for the test node, the same code path the app uses locally."""
    from checkins_data.connection import KeyspacesSettings

    return KeyspacesSettings(
        contact_points=node.contact_points,
        port=node.port,
        local_dc=node.local_dc,
        keyspace=keyspace,
        use_aws=False,
        # A small test node on a busy CI machine answers slower than Keyspaces.
        request_timeout_s=30.0,
        connect_timeout_s=15.0,
    )


def unique_keyspace_name(prefix: str = "test") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


def create_test_keyspace(
    session: Session,
    keyspace: str | None = None,
    *,
    safety_ttl_days: int | None = None,
    replication: dict[str, str | int] | None = None,
) -> str:
    """Create `keyspace` (default: a fresh unique name) with the whole checkins_data schema.

    Idempotent; returns the keyspace name. Schema changes wait for agreement so the next
    statement sees the tables.
    """
    from checkins_data.schema import DEFAULT_SAFETY_TTL_DAYS, build_schema

    name = keyspace or unique_keyspace_name()
    schema = build_schema(name, safety_ttl_days=safety_ttl_days or DEFAULT_SAFETY_TTL_DAYS)
    for statement in schema.create_statements(replication):
        session.execute(statement, timeout=60)
    return name


def drop_test_keyspace(session: Session, keyspace: str) -> None:
    session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}", timeout=60)
