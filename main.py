"""Synthesizes the platform: the state bootstrap stack and one stack per environment.

    python main.py                       # every environment in config/environments/
    PLATFORM_ENVIRONMENTS=dev python main.py

Configuration is validated before the AWS binding is even loaded: a bad value exits with status 2
and one line naming the file, the field and the value, and nothing is written.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main() -> int:
    from settings import CONFIG_DIR, ConfigError, load_platform

    selected = os.environ.get("PLATFORM_ENVIRONMENTS", "").strip()
    config_dir = Path(os.environ.get("PLATFORM_CONFIG_DIR") or CONFIG_DIR)
    try:
        platform = load_platform(
            [n.strip() for n in selected.split(",")] if selected else None, config_dir
        )
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    import toolchain

    toolchain.prepare()  # Node for jsii, then only the provider submodules in use
    from modules.props import PropsError
    from stacks.app import build_app
    from toolchain.lambda_package import PackageError

    try:
        app, stack_names = build_app(platform)
    # A construct's props check (names the prop and the value), or a Lambda package that cannot
    # be built (names the package and the command that builds it).
    except (PropsError, PackageError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    app.synth()
    print(f"synthesized {len(stack_names)} stacks ({', '.join(stack_names)}) into {app.outdir}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
