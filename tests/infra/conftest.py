"""Construct tests synthesize one construct on a bare stack: `synth_construct` does the
boilerplate (the binding is loaded once per process, through the same loader `main.py` uses)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Doc:
    """One synthesized `cdk.tf.json`, with the look-ups construct tests need."""

    json: dict[str, Any]

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return self.json.get("resource", {}).get(resource_type, {})

    def data(self, data_type: str) -> dict[str, dict[str, Any]]:
        return self.json.get("data", {}).get(data_type, {})


def synth_construct(build: Callable[[Any], Any], name: str = "test") -> tuple[Any, Doc]:
    """Run `build(stack)` on a fresh bare stack; return what it returned and the stack's JSON."""
    import toolchain

    toolchain.prepare()
    from cdktf import TerraformStack, Testing

    stack = TerraformStack(Testing.app(), name)
    construct = build(stack)
    return construct, Doc(json.loads(Testing.synth(stack)))
