"""Conventions every stack shares: pinned versions, common tags, deterministic output."""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stacks.provider import AWS_PROVIDER_CONSTRAINT
from tests.support.synth_fixtures import REPO_ROOT, synth_platform

ALL_STACKS = ("state-bootstrap", "dev", "prod")
TAG_KEYS = {"project", "environment", "owner", "managed-by", "repository"}


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_app_synthesizes_the_bootstrap_and_every_environment(synthesized):
    assert sorted(synthesized.stacks) == sorted(ALL_STACKS)


@pytest.mark.parametrize("stack", ALL_STACKS)
def test_required_version_matches_terraform_version_file(synthesized, stack):
    pinned = (REPO_ROOT / ".terraform-version").read_text().strip()
    major, minor, _patch = (int(p) for p in pinned.split("."))

    assert synthesized.stacks[stack]["terraform"]["required_version"] == f"~> {major}.{minor}"
    assert (major, minor) >= (1, 10), "S3 native state locking needs Terraform >= 1.10"


@pytest.mark.parametrize("stack", ALL_STACKS)
def test_aws_provider_is_pinned_to_the_binding_release_line(synthesized, stack):
    aws = synthesized.stacks[stack]["terraform"]["required_providers"]["aws"]

    assert aws == {"source": "hashicorp/aws", "version": AWS_PROVIDER_CONSTRAINT}
    assert AWS_PROVIDER_CONSTRAINT == "~> 6.25"  # binding 21.22.1 was generated from aws 6.25.0


@pytest.mark.parametrize("stack", ALL_STACKS)
def test_common_tags_on_every_taggable_resource_via_default_tags(synthesized, stack):
    (provider,) = synthesized.stacks[stack]["provider"]["aws"]
    (default_tags,) = provider["default_tags"]
    expected_env = "shared" if stack == "state-bootstrap" else stack

    assert set(default_tags["tags"]) == TAG_KEYS
    assert default_tags["tags"]["environment"] == expected_env
    assert provider["allowed_account_ids"] == ["111122223333"]


# Arguments that name a password without holding one: RDS creates and rotates the master
# password in Secrets Manager (the JSON and the state only say that it does).
_PASSWORD_SWITCHES = {"manage_master_user_password": True}


def _password_fields(node, path=""):
    """Every (path, value) whose key or string value mentions a password."""
    if isinstance(node, dict):
        for key, value in node.items():
            if "password" in key.lower():
                yield f"{path}.{key}", value
            yield from _password_fields(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _password_fields(value, f"{path}[{index}]")
    elif isinstance(node, str) and "password" in node.lower():
        yield path, node


@pytest.mark.parametrize("stack", ALL_STACKS)
def test_no_secret_or_local_path_in_synthesized_json(synthesized, stack):
    text = (synthesized.outdir / "stacks" / stack / "cdk.tf.json").read_text()
    fields = [
        (path, value)
        for path, value in _password_fields(synthesized.stacks[stack])
        if _PASSWORD_SWITCHES.get(path.rsplit(".", 1)[-1]) != value
    ]

    assert str(REPO_ROOT) not in text
    assert fields == []


def test_same_inputs_give_byte_identical_output(synthesized, platform_config, tmp_path):
    again = synth_platform(platform_config, tmp_path / "again")

    first, second = _tree(synthesized.outdir), _tree(again.outdir)
    assert sorted(first) == sorted(second)
    different = [name for name in first if first[name] != second[name]]
    assert different == []


def _cdktf_cli() -> Path | None:
    cli = REPO_ROOT / "tools" / "cdktf-cli" / "node_modules" / ".bin" / "cdktf"
    return cli if cli.exists() else None


@pytest.mark.skipif(_cdktf_cli() is None, reason="cdktf CLI not installed (make test installs it)")
def test_cdktf_cli_synth_equals_python_main(tmp_path):
    from toolchain.node import node_binary

    node_dir = str(Path(node_binary()).parent)
    env = {
        **os.environ,
        "PATH": f"{node_dir}{os.pathsep}{os.environ['PATH']}",
        "CHECKPOINT_DISABLE": "1",
    }
    env.pop("PLATFORM_ENVIRONMENTS", None)
    work = tmp_path / "repo"
    shutil.copytree(
        REPO_ROOT,
        work,
        ignore=shutil.ignore_patterns(
            ".venv", ".tools", "node_modules", "cdktf.out", ".git", "tests", "__pycache__"
        ),
    )
    venv = work / ".venv"
    venv.symlink_to(Path(sys.prefix))

    subprocess.run(
        [str(_cdktf_cli()), "synth", "--output", "cli.out"],
        cwd=work,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    subprocess.run(
        [sys.executable, "main.py"], cwd=work, env=env, check=True, capture_output=True, timeout=300
    )

    comparison = filecmp.dircmp(work / "cli.out", work / "cdktf.out")
    assert _tree(work / "cli.out") == _tree(work / "cdktf.out"), comparison.report()
