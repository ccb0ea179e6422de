"""The real-Cassandra harness: the node answers CQL and test keyspaces hold the schema."""

from __future__ import annotations

from checkins_data.schema import build_schema

from tests.support.cassandra_fixtures import create_test_keyspace, drop_test_keyspace


def test_node_answers_cql_on_the_reported_port(cassandra_node, cassandra_session):
    contact_points, port, local_dc, description = cassandra_node
    row = cassandra_session.execute("SELECT release_version, data_center FROM system.local").one()
    assert row.data_center == local_dc
    host = cassandra_session.cluster.metadata.all_hosts()[0]
    assert host.endpoint.port == port
    assert host.endpoint.address in contact_points
    # The summary line names the version the node really runs, or the external cluster.
    assert row.release_version in description or "external" in description


def test_test_keyspace_holds_every_table_of_the_schema(cassandra_cluster, cassandra_keyspace):
    meta = cassandra_cluster.metadata.keyspaces[cassandra_keyspace]
    assert set(meta.tables) == {t.name for t in build_schema().tables}


def test_each_test_gets_its_own_keyspace(cassandra_cluster, cassandra_keyspace):
    other = create_test_keyspace(cassandra_cluster.connect())
    try:
        assert other != cassandra_keyspace
        assert other in cassandra_cluster.metadata.keyspaces
    finally:
        drop_test_keyspace(cassandra_cluster.connect(), other)
    assert other not in cassandra_cluster.metadata.keyspaces
