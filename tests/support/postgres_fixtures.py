"""PostgreSQL fixtures: one throwaway server per test session, started on first use.

Loaded for every test session by tests/conftest.py, so importing this module must stay cheap:
the server starts only when a test requests ``postgres_server``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devtools.postgres_server import (
    PostgresServer,
    PostgresUnavailable,
    find_binaries,
)

_started: list[PostgresServer] = []


def pytest_report_header(config: pytest.Config) -> str:
    try:
        found = find_binaries()
    except PostgresUnavailable as exc:
        return f"postgresql: unavailable ({exc}); tests that need it are skipped"
    except Exception as exc:  # a broken install must not break collection
        return f"postgresql: unusable ({exc!r}); tests that need it are skipped"
    return f"postgresql: {found.version} from {found.bin_dir}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for server in _started:
        terminalreporter.write_line(
            f"postgresql used: {server.binaries.version} from {server.binaries.bin_dir}, "
            f"port {server.port}"
        )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Every test that needs the server carries the marker, so `-m "not postgres"` skips them.
    for item in items:
        if "postgres_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A running PostgreSQL server (superuser ``postgres``, trust auth on loopback)."""
    try:
        server = PostgresServer()
        server.start()
    except PostgresUnavailable as exc:  # no binaries, or root without a user to run them as
        pytest.skip(f"PostgreSQL not available: {exc}")
    _started.append(server)
    try:
        yield server
    finally:
        server.stop()
