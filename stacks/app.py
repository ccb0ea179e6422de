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
    # The bootstrap stack knows every environment (their accounts reach the state bucket);
    # only the selected environments get a stack.
    stacks = [StateBootstrapStack(app, project, state, platform.environments)]
    stacks += [
        EnvironmentStack(
            app,
            project,
            env,
            state,
            manages_account_settings=platform.manages_account_settings(env),
        )
        for env in platform.selected_environments
    ]
    return app, [s.node.id for s in stacks]
