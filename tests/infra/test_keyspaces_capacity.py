"""`[data.provisioned_tables]` reaches the Keyspaces tables of its environment only; without it
every table stays on-demand."""

from __future__ import annotations

import shutil

import pytest

from settings import load_platform
from tests.infra.helpers import ENVIRONMENTS
from tests.support.synth_fixtures import REPO_ROOT, synth_platform

DEV_CAPACITY = """
[data.provisioned_tables.checkins_by_device_day]
min_read_units = 5
max_read_units = 50
min_write_units = 10
max_write_units = 100
"""


@pytest.fixture(scope="module")
def dev_provisioned(tmp_path_factory):
    config = tmp_path_factory.mktemp("config") / "config"
    shutil.copytree(REPO_ROOT / "config", config)
    dev = config / "environments" / "dev.toml"
    dev.write_text(dev.read_text() + DEV_CAPACITY)
    return synth_platform(load_platform(config_dir=config), tmp_path_factory.mktemp("out"))


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_checked_in_environments_are_on_demand(synthesized, env):
    tables = synthesized.resources(env, "aws_keyspaces_table").values()
    assert {t["capacity_specification"]["throughput_mode"] for t in tables} == {"PAY_PER_REQUEST"}
    assert not synthesized.resources(env, "aws_appautoscaling_target")


def test_configured_table_is_provisioned_and_auto_scaled_in_its_environment(dev_provisioned):
    tables = {
        t["table_name"]: t for t in dev_provisioned.resources("dev", "aws_keyspaces_table").values()
    }
    modes = {name: t["capacity_specification"]["throughput_mode"] for name, t in tables.items()}
    assert modes.pop("checkins_by_device_day") == "PROVISIONED"
    assert set(modes.values()) == {"PAY_PER_REQUEST"}
    targets = dev_provisioned.resources("dev", "aws_appautoscaling_target").values()
    assert sorted((t["min_capacity"], t["max_capacity"]) for t in targets) == [(5, 50), (10, 100)]
    assert len(dev_provisioned.resources("dev", "aws_appautoscaling_policy")) == 2
    # The other environment is untouched.
    assert not dev_provisioned.resources("prod", "aws_appautoscaling_target")
