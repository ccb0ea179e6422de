"""The real-Cassandra harness: the node answers CQL and test keyspaces hold the schema."""

from __future__ import annotations

from dataclasses import replace

import pytest
from checkins_data.schema import build_schema

from devtools import cassandra_server
from devtools.cassandra_keyspaces import create_test_keyspace, drop_test_keyspace
from devtools.cassandra_server import (
    CassandraStartError,
    CassandraUnavailable,
    HarnessSettings,
    LocalCassandra,
    external_node_from_env,
    java_executable,
    maven_executable,
)


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


# ---- how the harness decides between use, skip and failure ----


def test_contact_points_from_the_environment_select_an_external_cluster(monkeypatch):
    monkeypatch.setenv("CASSANDRA_CONTACT_POINTS", " 10.1.0.5, 10.1.0.6 ")
    monkeypatch.setenv("CASSANDRA_PORT", "19042")
    node = external_node_from_env()
    assert node is not None
    assert (node.contact_points, node.port) == (("10.1.0.5", "10.1.0.6"), 19042)
    assert "external" in node.description and "10.1.0.5" in node.description
    monkeypatch.setenv("CASSANDRA_CONTACT_POINTS", "")
    assert external_node_from_env() is None


def _fake_java(tmp_path, version):
    home = tmp_path / "jdk"
    (home / "bin").mkdir(parents=True)
    java = home / "bin" / "java"
    java.write_text(f"#!/bin/sh\necho 'openjdk version \"{version}\" 2025-01-01' >&2\n")
    java.chmod(0o755)
    return home


def test_a_java_cassandra_cannot_run_on_makes_it_unavailable(tmp_path, monkeypatch):
    monkeypatch.setenv("JAVA_HOME", str(_fake_java(tmp_path, "21.0.2")))
    with pytest.raises(CassandraUnavailable, match="Java 21"):
        java_executable()
    monkeypatch.setenv("JAVA_HOME", str(_fake_java(tmp_path / "ok", "17.0.15")))
    assert java_executable().endswith("/bin/java")


def test_missing_tools_make_cassandra_unavailable(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(CassandraUnavailable, match="java"):
        java_executable()
    with pytest.raises(CassandraUnavailable, match="mvn"):
        maven_executable()


def test_a_node_that_cannot_start_is_an_error_with_its_log(cassandra_node, tmp_path, monkeypatch):
    """Java and Maven present but a broken configuration: an error naming the cause, no skip."""
    if external_node_from_env() is not None:
        pytest.skip("the local node harness is not in use (CASSANDRA_CONTACT_POINTS is set)")
    broken = tmp_path / "cassandra.yaml.template"
    good = cassandra_server._YAML_TEMPLATE.read_text()
    broken.write_text(good + "\nno_such_option_in_cassandra: 1\n")
    monkeypatch.setattr(cassandra_server, "_YAML_TEMPLATE", broken)
    node = LocalCassandra(replace(HarnessSettings.from_env(), start_timeout_s=120))
    with pytest.raises(CassandraStartError, match="no_such_option_in_cassandra"):
        node.start()
    node.stop()
