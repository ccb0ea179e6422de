"""Session-wide test wiring: the real servers' fixtures live in tests/support/."""

pytest_plugins = [
    "tests.support.postgres_fixtures",
    "tests.support.cassandra_fixtures",
    "tests.support.synth_fixtures",
]
