"""Builds the cdktf App from validated configuration: the state bootstrap stack plus one stack
per selected environment."""

from __future__ import annotations

from cdktf import App

from stacks.bootstrap import StateBootstrapStack
from stacks.config import PlatformConfig
from stacks.environment import EnvironmentStack


def build_app(platform: PlatformConfig, outdir: str | None = None) -> tuple[App, list[str]]:
    """Return the App (not yet synthesized) and its stack names, in synth order."""
    # No stack traces in the JSON: they hold local paths and would break determinism.
    app = App(outdir=outdir, stack_traces=False) if outdir else App(stack_traces=False)
    stacks = [StateBootstrapStack(app, platform.project)]
    stacks += [EnvironmentStack(app, platform.project, env) for env in platform.environments]
    return app, [s.node.id for s in stacks]
