"""The network's pure planning: NAT modes and the subnet plan. No AWS binding is imported here,
so configuration can share these types and be validated before the binding loads."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import StrEnum

from modules.props import PropsError

_SMALLEST_SUBNET_PREFIX = 28  # AWS refuses subnets smaller than /28
# Zones the address plan leaves room for by default: most regions offer 3, some 4.
DEFAULT_ZONE_SLOTS = 4


class NatMode(StrEnum):
    """How private subnets reach the internet."""

    NONE = "none"  # VPC endpoints only: no NAT gateway at all
    SINGLE = "single"  # one NAT gateway in the first AZ (cheap, one AZ of failure)
    PER_AZ = "per_az"  # one NAT gateway per AZ (highly available)

    def gateway_count(self, az_count: int) -> int:
        return {NatMode.NONE: 0, NatMode.SINGLE: 1, NatMode.PER_AZ: az_count}[self]


@dataclass(frozen=True)
class SubnetPlan:
    """CIDR blocks per tier, one per zone slot: slot i belongs to zone i."""

    public: tuple[str, ...]
    private: tuple[str, ...]
    isolated: tuple[str, ...]


def plan_subnets(vpc_cidr: str, zone_slots: int = DEFAULT_ZONE_SLOTS) -> SubnetPlan:
    """Carve the VPC: half for private subnets (tasks scale there), a quarter each for public and
    isolated, each tier split into `zone_slots` equal blocks. The plan depends on the VPC and
    the slot count only, never on how many zones are in use, so adding a zone moves nothing."""
    network = ipaddress.IPv4Network(vpc_cidr)
    slots = 1 << (zone_slots - 1).bit_length()  # next power of two >= zone_slots
    private_half, rest = network.subnets(prefixlen_diff=1)
    public_quarter, isolated_quarter = rest.subnets(prefixlen_diff=1)

    def split(block: ipaddress.IPv4Network) -> tuple[str, ...]:
        if block.prefixlen + slots.bit_length() - 1 > _SMALLEST_SUBNET_PREFIX:
            raise PropsError(
                "NetworkProps.vpc_cidr",
                vpc_cidr,
                f"too small for {zone_slots} zone slots "
                f"(subnets would be smaller than /{_SMALLEST_SUBNET_PREFIX})",
            )
        parts = list(block.subnets(prefixlen_diff=slots.bit_length() - 1))
        return tuple(str(p) for p in parts[:zone_slots])

    return SubnetPlan(
        public=split(public_quarter), private=split(private_half), isolated=split(isolated_quarter)
    )
