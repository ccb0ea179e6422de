"""Bad configuration fails synth with one line naming the field and the value, exit status 2,
no stack trace, and nothing written. Each case runs the real `main.py` in a subprocess (it exits
before the AWS binding would load, so these are fast)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from settings import ConfigError, load_platform

REPO_ROOT = Path(__file__).resolve().parents[2]


def _write_toml(path: Path, data: dict) -> None:
    def value(v):
        if isinstance(v, list):
            return "[" + ", ".join(value(i) for i in v) + "]"
        return f'"{v}"' if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else v

    def table(name: str, body: dict) -> str:
        # Keys first, then sub-tables as [name.sub] (TOML needs them after the keys).
        keys = "".join(f"{k} = {value(v)}\n" for k, v in body.items() if not isinstance(v, dict))
        header = f"\n[{name}]\n" if name else ""
        subs = "".join(
            table(f"{name}.{k}" if name else k, v) for k, v in body.items() if isinstance(v, dict)
        )
        return header + keys + subs

    path.write_text(table("", data))


def _config_with(tmp_path: Path, env: str, changes: dict, drop: tuple[str, ...] = ()) -> Path:
    """A copy of the checked-in configuration with `changes` and `drop` (dotted keys) applied."""
    config = tmp_path / "config"
    shutil.copytree(REPO_ROOT / "config", config)
    path = config / "environments" / f"{env}.toml"
    data = tomllib.loads(path.read_text())

    def table_of(dotted: str) -> tuple[dict, str]:
        *parents, key = dotted.split(".")
        table = data
        for parent in parents:
            table = table.setdefault(parent, {})
        return table, key

    for dotted, new in changes.items():
        table, key = table_of(dotted)
        table[key] = new
    for dotted in drop:
        table, key = table_of(dotted)
        table.pop(key)
    _write_toml(path, data)
    return config


def _run_main(tmp_path: Path, config: Path, environments: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "PLATFORM_CONFIG_DIR": str(config), "PLATFORM_ENVIRONMENTS": environments}
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "main.py")],
        cwd=tmp_path,  # the default output folder would be tmp_path/cdktf.out
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


BAD_VALUES = [
    pytest.param("prod", {"network.vpc_cidr": "10.20.0.0/33"}, (), "network.vpc_cidr", "10.20.0.0/33", id="invalid-cidr"),
    pytest.param("prod", {"network.vpc_cidr": "10.20.0.1/16"}, (), "network.vpc_cidr", "10.20.0.1/16", id="cidr-host-bits"),
    pytest.param("prod", {"network.vpc_cidr": "8.8.0.0/16"}, (), "network.vpc_cidr", "8.8.0.0/16", id="public-cidr"),
    pytest.param("prod", {"network.vpc_cidr": "10.10.128.0/17"}, (), "network.vpc_cidr", "10.10.128.0/17", id="overlapping-cidr"),
    pytest.param("dev", {"region": "eu-nowhere-1"}, (), "region", "eu-nowhere-1", id="unknown-region"),
    pytest.param("dev", {"region": "us-west-1", "network.az_count": 3}, (), "network.az_count", "3", id="az-count-region-cannot-hold"),
    pytest.param("dev", {"network.az_count": 1}, (), "network.az_count", "1", id="az-count-below-2"),
    pytest.param("dev", {"network.availability_zones": ["eu-west-1a", "eu-west-2b"]}, (), "network.availability_zones", "eu-west-2b", id="zone-of-another-region"),
    pytest.param("dev", {}, ("alarms.email",), "alarms.email", "required", id="missing-alarm-email"),
    pytest.param("dev", {"alarms.email": "alerts@@example"}, (), "alarms.email", "alerts@@example", id="malformed-alarm-email"),
    pytest.param("dev", {"log_retention_days": 45}, (), "log_retention_days", "45", id="retention-not-allowed"),
    pytest.param("dev", {"network.nat": "sometimes"}, (), "network.nat", "sometimes", id="unknown-nat-mode"),
    pytest.param("dev", {"network.vpc_cdir": "10.0.0.0/16"}, (), "network.vpc_cdir", "unknown field", id="misspelt-field"),
    pytest.param("dev", {}, ("network",), "network", "required", id="missing-section"),
    pytest.param("prod", {"aws_account_id": "4444555566"}, (), "aws_account_id", "4444555566", id="account-not-12-digits"),
    pytest.param("prod", {"aws_account_id": "444455556666", "deploy_role_arn": "arn:aws:iam::444455556666:user/ci"}, (), "deploy_role_arn", "user/ci", id="deploy-role-not-a-role"),
    pytest.param("prod", {"aws_account_id": "444455556666", "deploy_role_arn": "arn:aws:iam::111122223333:role/deploy"}, (), "deploy_role_arn", "111122223333:role/deploy", id="deploy-role-in-another-account"),
    pytest.param("prod", {"state_role_arn": "terraform-state"}, (), "state_role_arn", "terraform-state", id="state-role-not-an-arn"),
    pytest.param("dev", {"data.provisioned_tables.nope": {"min_read_units": 1, "max_read_units": 1, "min_write_units": 1, "max_write_units": 1}}, (), "data.provisioned_tables", "nope", id="capacity-for-unknown-table"),
    pytest.param("dev", {"data.provisioned_tables.devices": {"min_read_units": 10, "max_read_units": 5, "min_write_units": 1, "max_write_units": 1}}, (), "data.provisioned_tables.devices.max_read_units", "5", id="capacity-max-below-min"),
    pytest.param("dev", {"data.provisioned_tables.devices": {"min_read_units": 0, "max_read_units": 5, "min_write_units": 1, "max_write_units": 1}}, (), "data.provisioned_tables.devices.min_read_units", "0", id="capacity-below-one-unit"),
    pytest.param("dev", {"data.provisioned_tables.devices": {"min_read_units": 1, "max_read_units": 5, "min_write_units": 1, "max_write_units": 1, "target_utilization_percent": 95}}, (), "data.provisioned_tables.devices.target_utilization_percent", "95", id="capacity-target-above-90"),
    pytest.param("prod", {"data.archive.storage_class": "STANDARD_IA", "data.archive.transition_days": 10}, (), "data.archive.transition_days", "10", id="transition-shorter-than-class-allows"),
    pytest.param("prod", {"data.archive.storage_class": "DEEP_ARCHIVE"}, (), "data.archive.storage_class", "DEEP_ARCHIVE", id="archive-class-not-readable-directly"),
    pytest.param("dev", {"data.archive.expire_after_days": 20}, (), "data.archive.expire_after_days", "20", id="expiry-before-transition"),
    pytest.param("prod", {"data.archive.expire_after_days": 100}, (), "data.archive.expire_after_days", "100", id="expiry-before-lock-ends"),
    pytest.param("prod", {"data.archive.object_lock_days": 0}, (), "data.archive.object_lock_days", "0", id="lock-retention-below-1"),
    pytest.param("prod", {"data.archive.object_lock_days": 40000}, (), "data.archive.object_lock_days", "40000", id="lock-retention-above-100-years"),
    pytest.param("prod", {"data.archive.object_lock": "legal-hold"}, (), "data.archive.object_lock", "legal-hold", id="unknown-lock-mode"),
    pytest.param("prod", {"data.signing_keys.rotation_days": 0}, (), "data.signing_keys.rotation_days", "0", id="rotation-days-below-1"),
    pytest.param("prod", {"data.signing_keys.recovery_window_days": 0}, (), "data.signing_keys.recovery_window_days", "0", id="recovery-window-immediate"),
    pytest.param("prod", {"data.signing_keys.rotation_days": 1, "data.signing_keys.publish_delay_seconds": 86400}, (), "data.signing_keys.rotation_days", "1", id="rotation-before-new-key-signs"),
    pytest.param("prod", {"data.database.instance_class": "db.huge.large"}, (), "data.database.instance_class", "db.huge.large", id="db-unknown-instance-class"),
    pytest.param("dev", {"data.database.instance_class": "db.t4g.8xlarge"}, (), "data.database.instance_class", "db.t4g.8xlarge", id="db-burstable-size-not-offered"),
    pytest.param("dev", {"data.database.allocated_storage_gb": 10}, (), "data.database.allocated_storage_gb", "10", id="db-storage-below-gp3-minimum"),
    pytest.param("prod", {"data.database.max_allocated_storage_gb": 40}, (), "data.database.max_allocated_storage_gb", "40", id="db-autoscaling-ceiling-below-storage"),
    pytest.param("prod", {"data.database.backup_retention_days": 36}, (), "data.database.backup_retention_days", "36", id="db-backup-retention-above-35"),
    pytest.param("dev", {"data.database.backup_retention_days": 0}, (), "data.database.backup_retention_days", "0", id="db-backups-off"),
    pytest.param("prod", {"data.database.engine_major": 13}, (), "data.database.engine_major", "13", id="db-engine-major-unsupported"),
    pytest.param("prod", {"data.database.monitoring_interval_seconds": 20}, (), "data.database.monitoring_interval_seconds", "20", id="db-monitoring-interval"),
    pytest.param("prod", {"data.database.insights_retention_days": 30}, (), "data.database.insights_retention_days", "30", id="db-insights-retention"),
    pytest.param("dev", {"data.database.read_scale_out": True}, (), "data.database.read_scale_out", "True", id="db-read-scale-without-multi-az"),
    pytest.param("prod", {"data.database.read_scale_out": True}, (), "data.database.instance_class", "db.m7g.large", id="db-read-scale-on-instance-only-class"),
    pytest.param("prod", {"data.database.read_scale_out": True, "data.database.instance_class": "db.m6gd.large"}, (), "data.database.max_allocated_storage_gb", "500", id="db-read-scale-with-storage-autoscaling"),
    pytest.param("dev", {}, ("edge",), "edge", "required", id="edge-missing"),
    pytest.param("dev", {}, ("edge.certificate_validation",), "edge.certificate_validation", "required", id="domain-without-certificate-settings"),
    pytest.param("dev", {"edge.certificate_validation": "email"}, (), "edge.certificate_validation", "email", id="certificate-validation-unknown"),
    pytest.param("dev", {"edge.certificate_validation": "route53"}, (), "edge.zone_id", "required", id="route53-validation-without-zone"),
    pytest.param("dev", {"edge.zone_id": "Z0123456789ABCDEFGHIJ"}, (), "edge.zone_id", "Z0123456789ABCDEFGHIJ", id="zone-without-route53-validation"),
    pytest.param("dev", {"edge.domain_name": "API.Example.com"}, (), "edge.domain_name", "API.Example.com", id="domain-not-lower-case"),
    pytest.param("prod", {"edge.allow_list": {"cidrs": ["203.0.113.0/33"]}}, (), "edge.allow_list.cidrs", "203.0.113.0/33", id="allow-list-invalid-cidr"),
    pytest.param("prod", {"edge.allow_list": {"cidrs": ["203.0.113.1/24"]}}, (), "edge.allow_list.cidrs", "203.0.113.1/24", id="allow-list-cidr-host-bits"),
    pytest.param("prod", {"edge.allow_list": {"cidrs": ["2001:db8::/32"]}}, (), "edge.allow_list.cidrs", "2001:db8::/32", id="allow-list-ipv6"),
    pytest.param("prod", {"edge.rate_limit_per_ip": 5}, (), "edge.rate_limit_per_ip", "5", id="rate-limit-below-waf-minimum"),
    pytest.param("prod", {"edge.rate_limit_per_ip": 3000000000}, (), "edge.rate_limit_per_ip", "3000000000", id="rate-limit-above-waf-maximum"),
    pytest.param("prod", {"edge.login_rate_limit_per_ip": 5000}, (), "edge.login_rate_limit_per_ip", "5000", id="login-limit-above-rate-limit"),
    pytest.param("prod", {"edge.rate_window_seconds": 90}, (), "edge.rate_window_seconds", "90", id="rate-window-not-offered"),
]  # fmt: skip


@pytest.mark.parametrize(("env", "changes", "drop", "field", "value"), BAD_VALUES)
def test_bad_value_fails_synth_naming_field_and_writes_nothing(
    tmp_path, env, changes, drop, field, value
):
    result = _run_main(tmp_path, _config_with(tmp_path, env, changes, drop))

    assert result.returncode == 2, result.stdout + result.stderr
    message = result.stderr.strip()
    assert message.startswith("error: "), message
    assert len(message.splitlines()) == 1, f"expected one line, got: {message}"
    assert field in message and value in message, message
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "cdktf.out").exists(), "a failed synth must write nothing"


def test_bad_value_in_an_unselected_environment_still_fails_synth(tmp_path):
    # The bootstrap stack grants every environment's account its state: all are checked.
    config = _config_with(tmp_path, "prod", {"aws_account_id": "not-an-account"})
    result = _run_main(tmp_path, config, environments="dev")

    assert result.returncode == 2
    assert "config/environments/prod.toml: aws_account_id = 'not-an-account'" in result.stderr
    assert not (tmp_path / "cdktf.out").exists()


def test_overlap_with_an_unselected_environment_fails_synth(tmp_path):
    config = _config_with(tmp_path, "prod", {"network.vpc_cidr": "10.10.0.0/16"})
    result = _run_main(tmp_path, config, environments="dev")

    assert result.returncode == 2
    assert "network.vpc_cidr = '10.10.0.0/16': overlaps dev's" in result.stderr


def test_bootstrap_state_switch_must_be_a_boolean(tmp_path):
    config = tmp_path / "config"
    shutil.copytree(REPO_ROOT / "config", config)
    project = config / "project.toml"
    text = project.read_text()
    assert "bootstrap_state_in_bucket = false" in text
    project.write_text(
        text.replace("bootstrap_state_in_bucket = false", 'bootstrap_state_in_bucket = "yes"')
    )
    result = _run_main(tmp_path, config)

    assert result.returncode == 2
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1, message
    assert "config/project.toml: state.bootstrap_state_in_bucket = 'yes'" in message
    assert not (tmp_path / "cdktf.out").exists()


def test_environment_account_defaults_to_the_projects(tmp_path):
    platform = load_platform(["dev"], config_dir=REPO_ROOT / "config")

    assert platform.selected == ("dev",)
    assert [e.name for e in platform.environments] == ["dev", "prod"]
    assert {e.aws_account_id for e in platform.environments} == {"111122223333"}
    assert all(
        e.deploy_role_arn is None and e.state_role_arn is None for e in platform.environments
    )


def test_unknown_environment_name_fails_synth(tmp_path):
    result = _run_main(tmp_path, REPO_ROOT / "config", environments="staging")

    assert result.returncode == 2
    assert "environment" in result.stderr and "'staging'" in result.stderr
    assert "known: dev, prod" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "cdktf.out").exists()


def test_checked_in_configuration_is_valid():
    platform = load_platform()

    assert [e.name for e in platform.environments] == ["dev", "prod"]


def test_adding_an_environment_is_one_file(tmp_path):
    config = tmp_path / "config"
    shutil.copytree(REPO_ROOT / "config", config)
    _write_toml(
        config / "environments" / "staging.toml",
        {
            "region": "eu-central-1",
            "log_retention_days": 90,
            "network": {"vpc_cidr": "10.30.0.0/16", "az_count": 2, "nat": "none"},
            "edge": {
                "domain_name": "api.staging.example.com",
                "certificate_validation": "external",
            },
            "alarms": {"email": "alerts@example.com"},
        },
    )

    platform = load_platform(config_dir=config)

    assert [e.name for e in platform.environments] == ["dev", "prod", "staging"]
    assert platform.environments[2].deletion_protection is True  # secure default


def test_config_error_names_the_file(tmp_path):
    config = _config_with(tmp_path, "dev", {"network.az_count": 9})

    with pytest.raises(
        ConfigError, match=r"^config/environments/dev\.toml: network\.az_count = 9: "
    ):
        load_platform(config_dir=config)
