"""Session-wide test wiring: the real servers' fixtures live in tests/support/."""

import toolchain

# Before any test module imports a construct: the AWS binding then loads once per pytest
# process and only the submodules in use (see toolchain/aws_binding.py).
toolchain.prepare()

pytest_plugins = [
    "tests.support.postgres_fixtures",
    "tests.support.cassandra_fixtures",
    "tests.support.synth_fixtures",
    "tests.support.checkov_fixtures",
    "tests.support.terraform_fixtures",
]
