"""Terraform run against an emulated AWS, once per test session, for the `terraform` tests.

- `terraform_verification` (session): the `Report` of `devtools.terraform.runner.Verification`
  on the session's synthesized stacks (init, validate, plan, apply, re-plan, state, destroy).

No Terraform binary or no hashicorp/aws provider: the tests are skipped with the reason
(TERRAFORM_REQUIRED=1 turns that into a failure). The header says which Terraform and provider
will run; the summary says which ran and what was left out of the emulated apply.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pytest

from devtools.terraform.moto import MotoUnavailable
from devtools.terraform.runner import Report, Verification
from devtools.terraform.toolchain import ToolchainUnavailable, find_mirror, find_terraform


@dataclass
class _Outcome:
    lines: list[str] = field(default_factory=lambda: ["not run (no selected test needed it)"])


_outcome_key = pytest.StashKey[_Outcome]()


def _required() -> bool:
    return os.environ.get("TERRAFORM_REQUIRED", "") not in ("", "0", "false", "no")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_outcome_key] = _Outcome()


def pytest_report_header(config: pytest.Config) -> str:
    required = " (TERRAFORM_REQUIRED: a skip is a failure)" if _required() else ""
    try:
        terraform = find_terraform()
    except ToolchainUnavailable as exc:
        return f"terraform: unavailable ({exc}){required}"
    mirror = find_mirror(terraform.platform)
    provider = (
        f"hashicorp/aws {', '.join(mirror.versions)} from the mirror {mirror.path}"
        if mirror
        else "hashicorp/aws from the registry"
    )
    return f"terraform: Terraform {terraform.version} ({terraform.binary}), {provider}{required}"


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    outcome = config.stash.get(_outcome_key, None)
    if outcome is not None:
        for line in outcome.lines:
            terminalreporter.write_line(f"terraform: {line}")


@pytest.fixture(scope="session")
def terraform_verification(request: pytest.FixtureRequest, tmp_path_factory) -> Report:
    outcome = request.config.stash[_outcome_key]
    workdir = tmp_path_factory.mktemp("terraform-verify")
    try:
        find_terraform()  # before the synth: a machine without Terraform skips at once
        synthesized = request.getfixturevalue("synthesized")
        report = Verification(synthesized.outdir, workdir).run()
    except (ToolchainUnavailable, MotoUnavailable) as exc:
        reason = f"Terraform cannot run here: {exc}"
        if _required():
            outcome.lines = [f"FAILED (TERRAFORM_REQUIRED=1): {reason}"]
            pytest.fail(f"TERRAFORM_REQUIRED=1 but {reason}", pytrace=False)
        outcome.lines = [f"SKIPPED tests that need it: {reason}"]
        pytest.skip(reason)
    outcome.lines = [*report.lines(), f"logs: {workdir}"]
    return report
