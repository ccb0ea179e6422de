"""Builds the cdktf App from validated configuration: the state bootstrap stack plus one stack
per selected environment."""

from __future__ import annotations

from cdktf import App

from modules.aws_target import AwsTarget
from settings import PlatformConfig
from stacks.bootstrap import StateBootstrapStack
from stacks.environment import EnvironmentStack
from stacks.naming import StateNames


def build_app(platform: PlatformConfig, outdir: str | None = None) -> tuple[App, list[str]]:
    """Return the App (not yet synthesized) and its stack names, in synth order."""
    # No stack traces in the JSON: they hold local paths and would break determinism.
    app = App(outdir=outdir, stack_traces=False) if outdir else App(stack_traces=False)
    project = platform.project
    state = StateNames(
        project=project.project,
        bucket=project.state.bucket,
        target=AwsTarget(account_id=project.aws_account_id, region=project.state.region),
    )
    stacks = [StateBootstrapStack(app, project, state)]
    stacks += [EnvironmentStack(app, project, env, state) for env in platform.environments]
    return app, [s.node.id for s in stacks]
