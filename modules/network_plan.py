"""The network's pure planning: NAT modes and the subnet plan. No AWS binding is imported here,
so configuration can share these types and be validated before the binding loads."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import StrEnum

from modules.props import PropsError

_SMALLEST_SUBNET_PREFIX = 28  # AWS refuses subnets smaller than /28


class NatMode(StrEnum):
    """How private subnets reach the internet."""

    NONE = "none"  # VPC endpoints only: no NAT gateway at all
    SINGLE = "single"  # one NAT gateway in the first AZ (cheap, one AZ of failure)
    PER_AZ = "per_az"  # one NAT gateway per AZ (highly available)

    def gateway_count(self, az_count: int) -> int:
        return {NatMode.NONE: 0, NatMode.SINGLE: 1, NatMode.PER_AZ: az_count}[self]


@dataclass(frozen=True)
class SubnetPlan:
    """CIDR blocks per tier, index i in AZ i."""

    public: tuple[str, ...]
    private: tuple[str, ...]
    isolated: tuple[str, ...]


def plan_subnets(vpc_cidr: str, az_count: int) -> SubnetPlan:
    """Carve the VPC: half for private subnets (tasks scale there), a quarter each for public and
    isolated. Pure and deterministic, so the layout never moves between synths."""
    network = ipaddress.IPv4Network(vpc_cidr)
    slots = 1 << (az_count - 1).bit_length()  # next power of two >= az_count
    private_half, rest = network.subnets(prefixlen_diff=1)
    public_quarter, isolated_quarter = rest.subnets(prefixlen_diff=1)

    def split(block: ipaddress.IPv4Network) -> tuple[str, ...]:
        if block.prefixlen + slots.bit_length() - 1 > _SMALLEST_SUBNET_PREFIX:
            raise PropsError(
                "NetworkProps.vpc_cidr",
                vpc_cidr,
                f"too small for {az_count} AZs "
                f"(subnets would be smaller than /{_SMALLEST_SUBNET_PREFIX})",
            )
        parts = list(block.subnets(prefixlen_diff=slots.bit_length() - 1))
        return tuple(str(p) for p in parts[:az_count])

    return SubnetPlan(
        public=split(public_quarter), private=split(private_half), isolated=split(isolated_quarter)
    )
