"""Synthesize the platform once per test session and hand the JSON to the infrastructure tests.

The AWS binding is loaded at most once per pytest process (and only if a test asks for it),
through the same fast loader `main.py` uses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from settings import PlatformConfig, load_platform

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Synthesized:
    """One synth of the whole App: the output folder and each stack's parsed `cdk.tf.json`."""

    outdir: Path
    stacks: dict[str, dict[str, Any]]

    def resources(self, stack: str, resource_type: str) -> dict[str, dict[str, Any]]:
        return self.stacks[stack].get("resource", {}).get(resource_type, {})

    def data(self, stack: str, data_type: str) -> dict[str, dict[str, Any]]:
        return self.stacks[stack].get("data", {}).get(data_type, {})


def synth_platform(platform: PlatformConfig, outdir: Path) -> Synthesized:
    """Build and synthesize the App exactly as `main.py` does, into `outdir`."""
    import toolchain

    toolchain.prepare()
    from stacks.app import build_app

    app, names = build_app(platform, str(outdir))
    app.synth()
    return Synthesized(
        outdir=outdir,
        stacks={
            name: json.loads((outdir / "stacks" / name / "cdk.tf.json").read_text())
            for name in names
        },
    )


@pytest.fixture(scope="session")
def platform_config() -> PlatformConfig:
    return load_platform()


@pytest.fixture(scope="session")
def synthesized(platform_config: PlatformConfig, tmp_path_factory) -> Synthesized:
    return synth_platform(platform_config, tmp_path_factory.mktemp("cdktf.out"))
