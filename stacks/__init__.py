"""Stacks: the only place that knows about environments and wires the constructs together."""
