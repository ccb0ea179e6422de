"""Real-Cassandra fixtures, loaded for every test session.

Importing this module is cheap: Cassandra starts (and the driver is imported) only when a test
asks for one of these fixtures.

- `cassandra_node` (session): `NodeInfo(contact_points, port, local_dc, description)` of the
  cluster named by CASSANDRA_CONTACT_POINTS, else of a single node started from Maven jars.
- `cassandra_cluster` (session): a connected Cluster built by `checkins_data.connection`.
- `cassandra_settings` (function): `KeyspacesSettings` for the node and a fresh test keyspace.
- `cassandra_keyspace` (function): the name of a fresh keyspace holding the whole schema.
- `cassandra_session` (function): a Session on that keyspace.

No Java or Maven: the tests are skipped with the reason (CASSANDRA_REQUIRED=1 turns that into
a failure). Java and Maven present but the node does not start: the tests error.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from devtools.cassandra_keyspaces import create_test_keyspace, node_settings
from devtools.cassandra_server import (
    CassandraUnavailable,
    HarnessSettings,
    LocalCassandra,
    NodeInfo,
    external_node_from_env,
)

if TYPE_CHECKING:
    from cassandra.cluster import Cluster, ResponseFuture, Session
    from checkins_data.connection import KeyspacesSettings

CASSANDRA_FIXTURES = frozenset(
    {
        "cassandra_node",
        "cassandra_cluster",
        "cassandra_settings",
        "cassandra_keyspace",
        "cassandra_session",
    }
)


@dataclass
class _Outcome:
    """What happened to Cassandra in this session, for the terminal summary."""

    line: str = "not started (no selected test needed it)"


_outcome_key = pytest.StashKey[_Outcome]()


def _required() -> bool:
    return os.environ.get("CASSANDRA_REQUIRED", "") not in ("", "0", "false", "no")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_outcome_key] = _Outcome()


def pytest_report_header(config: pytest.Config) -> str:
    external = external_node_from_env()
    if external is not None:
        return f"cassandra: {external.description}"
    settings = HarnessSettings.from_env()
    required = " (CASSANDRA_REQUIRED: a skip is a failure)" if _required() else ""
    return (
        f"cassandra: Apache Cassandra {settings.version} from Maven jars, started on first use "
        f"(jar cache {settings.cache_dir}){required}"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # `-m "not cassandra"` deselects every test that needs the node.
    for item in items:
        if CASSANDRA_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.cassandra)


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    outcome = config.stash.get(_outcome_key, None)
    if outcome is not None:
        terminalreporter.write_line(f"cassandra: {outcome.line}")


@pytest.fixture(scope="session")
def cassandra_node(request: pytest.FixtureRequest) -> Iterator[NodeInfo]:
    outcome = request.config.stash[_outcome_key]
    external = external_node_from_env()
    if external is not None:
        outcome.line = external.description
        yield external
        return
    node = LocalCassandra()
    try:
        info = node.start()
    except CassandraUnavailable as exc:
        reason = f"real Cassandra unavailable: {exc}"
        outcome.line = f"SKIPPED tests that need it: {reason}"
        if _required():
            outcome.line = f"FAILED (CASSANDRA_REQUIRED=1): {reason}"
            pytest.fail(f"CASSANDRA_REQUIRED=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    except Exception as exc:
        outcome.line = f"FAILED to start Apache Cassandra {node.settings.version}: {exc}"[:2000]
        node.stop(keep_files=True)
        raise
    outcome.line = info.description
    try:
        yield info
    finally:
        node.stop()


@pytest.fixture(scope="session")
def cassandra_cluster(cassandra_node: NodeInfo) -> Iterator[Cluster]:
    from checkins_data.connection import build_cluster

    cluster = build_cluster(node_settings(cassandra_node, "unused"))
    cluster.connect()  # fails here, with the driver's reason, if the node is unreachable
    try:
        yield cluster
    finally:
        cluster.shutdown()


@pytest.fixture(scope="session")
def _cassandra_admin_session(cassandra_cluster: Cluster) -> Iterator[Session]:
    session = cassandra_cluster.connect()
    pending: list[ResponseFuture] = []
    session._test_pending_drops = pending  # type: ignore[attr-defined]
    try:
        yield session
    finally:
        # Test keyspaces are dropped in the background; let the last drops finish so an
        # external cluster is left clean.
        for future in pending:
            with contextlib.suppress(Exception):
                future.result()


@pytest.fixture
def cassandra_keyspace(_cassandra_admin_session: Session) -> Iterator[str]:
    session = _cassandra_admin_session
    name = create_test_keyspace(session)
    try:
        yield name
    finally:
        # Dropping takes a second or more on a busy machine; it need not hold up the next test.
        session._test_pending_drops.append(  # type: ignore[attr-defined]
            session.execute_async(f"DROP KEYSPACE IF EXISTS {name}", timeout=120)
        )


@pytest.fixture
def cassandra_settings(cassandra_node: NodeInfo, cassandra_keyspace: str) -> KeyspacesSettings:
    return node_settings(cassandra_node, cassandra_keyspace)


@pytest.fixture
def cassandra_session(
    cassandra_node: NodeInfo, cassandra_cluster: Cluster, cassandra_keyspace: str
) -> Iterator[Session]:
    session = cassandra_cluster.connect(cassandra_keyspace)
    # As `checkins_data.connection.connect` configures it.
    session.default_fetch_size = node_settings(cassandra_node, cassandra_keyspace).fetch_size
    try:
        yield session
    finally:
        session.shutdown()
