"""AWS commercial regions and how many Availability Zones each offers to every account.

Synth must not call AWS, so zones are checked against this table and written into the stacks
as literal names (a closed set: a zone AWS adds later never moves a subnet); at plan time an
`aws_availability_zones` data source checks that each named zone is available.
"""

from types import MappingProxyType

# Zone-name suffixes open to every account without opt-in (Local Zones and Wavelength excluded).
# Names map to physical zones per account; where an account differs, set
# `availability_zones` in the environment file.
ZONE_SUFFIXES = MappingProxyType(
    {
        "af-south-1": "abc",
        "ap-east-1": "abc",
        "ap-northeast-1": "acd",
        "ap-northeast-2": "abcd",
        "ap-northeast-3": "abc",
        "ap-south-1": "abc",
        "ap-south-2": "abc",
        "ap-southeast-1": "abc",
        "ap-southeast-2": "abc",
        "ap-southeast-3": "abc",
        "ap-southeast-4": "abc",
        "ap-southeast-5": "abc",
        "ap-southeast-7": "abc",
        "ca-central-1": "abc",
        "ca-west-1": "abc",
        "eu-central-1": "abc",
        "eu-central-2": "abc",
        "eu-north-1": "abc",
        "eu-south-1": "abc",
        "eu-south-2": "abc",
        "eu-west-1": "abc",
        "eu-west-2": "abc",
        "eu-west-3": "abc",
        "il-central-1": "abc",
        "me-central-1": "abc",
        "me-south-1": "abc",
        "mx-central-1": "abc",
        "sa-east-1": "abc",
        "us-east-1": "abcdef",
        "us-east-2": "abc",
        "us-west-1": "ac",
        "us-west-2": "abcd",
    }
)
AVAILABILITY_ZONES_PER_REGION = MappingProxyType({r: len(s) for r, s in ZONE_SUFFIXES.items()})


def default_zones(region: str, count: int) -> tuple[str, ...]:
    """The first `count` zone names of a region, e.g. eu-west-1a, eu-west-1b."""
    return tuple(f"{region}{suffix}" for suffix in ZONE_SUFFIXES[region][:count])
