"""Terraform itself takes every synthesized stack through init, validate, plan, apply, an empty
re-plan and destroy, against moto in server mode (devtools/terraform/). One test per stack step;
the whole sequence runs once per session (`terraform_verification`)."""

from __future__ import annotations

import pytest

from devtools.terraform import copies
from devtools.terraform.runner import STEPS, Report, StackRun

pytestmark = pytest.mark.terraform

# In the order they are applied: the bootstrap stack creates the bucket the others keep state in.
STACKS = ("state-bootstrap", "dev", "prod")
CASES = [
    (stack, step)
    for stack in STACKS
    for step in STEPS
    if not (step == "state" and stack == "state-bootstrap")  # local state: nothing remote
]


def _run(report: Report, stack: str) -> StackRun:
    return next(run for run in report.stacks if run.name == stack)


def test_every_synthesized_stack_is_run_in_apply_order(synthesized, terraform_verification):
    assert set(synthesized.stacks) == set(STACKS), "a new stack needs its steps listed here"
    assert [run.name for run in terraform_verification.stacks] == list(STACKS)


@pytest.mark.parametrize(("stack", "step"), CASES, ids=[f"{s}-{t}" for s, t in CASES])
def test_step(terraform_verification, stack, step):
    run = _run(terraform_verification, stack)
    outcome = run.steps[step]
    if outcome.ok is None:
        failed = [s.name for s in run.ran if not s.ok]
        pytest.fail(f"{stack}: {step} did not run (failed before it: {', '.join(failed)})")
    assert outcome.ok, f"{stack}: {step} failed:\n{outcome.detail}"
    if step == "apply":
        assert run.resources_applied > 0, f"{stack}: the apply created nothing"


@pytest.mark.parametrize("stack", STACKS)
def test_every_type_the_emulator_cannot_create_is_named(synthesized, terraform_verification, stack):
    run = _run(terraform_verification, stack)
    present = set(synthesized.stacks[stack].get("resource", {})) & set(
        copies.EMULATOR_CANNOT_CREATE
    )
    named = "\n".join(run.applied_notes.left_out)
    assert all(rtype in named for rtype in present), named
    assert bool(present) == bool(run.applied_notes.left_out)
