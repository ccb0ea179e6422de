"""pytest plugin: collects the checkov scan results of the session for one summary line each."""

from __future__ import annotations

import pytest

from devtools.checkov_scan import ScanResult

# Collected for the end-of-session summary line per stack.
RESULTS: list[ScanResult] = []


def pytest_terminal_summary(terminalreporter) -> None:
    for result in RESULTS:
        terminalreporter.write_line(result.summary())


@pytest.fixture(scope="session")
def checkov_results() -> list[ScanResult]:
    return RESULTS
