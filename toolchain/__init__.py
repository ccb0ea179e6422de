"""The synth toolchain: the Node.js jsii runs on and the fast AWS binding loader. Creates no
resources; call `prepare()` before anything imports `cdktf`, `constructs` or the binding."""

from __future__ import annotations

from toolchain import aws_binding, node


def prepare() -> bool:
    """Point jsii at the wheel's Node.js, then install the binding loader; True if it is active."""
    node.configure_node()
    return aws_binding.install()
