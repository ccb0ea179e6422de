"""AWS commercial regions and how many Availability Zones each offers to every account.

Synth must not call AWS, so the AZ count is checked against this table; the subnets themselves
take their zone names from the `aws_availability_zones` data source at plan time.
"""

from types import MappingProxyType

# Zones open to every account without opt-in (Local Zones and Wavelength excluded).
AVAILABILITY_ZONES_PER_REGION = MappingProxyType(
    {
        "af-south-1": 3,
        "ap-east-1": 3,
        "ap-northeast-1": 3,
        "ap-northeast-2": 4,
        "ap-northeast-3": 3,
        "ap-south-1": 3,
        "ap-south-2": 3,
        "ap-southeast-1": 3,
        "ap-southeast-2": 3,
        "ap-southeast-3": 3,
        "ap-southeast-4": 3,
        "ap-southeast-5": 3,
        "ap-southeast-7": 3,
        "ca-central-1": 3,
        "ca-west-1": 3,
        "eu-central-1": 3,
        "eu-central-2": 3,
        "eu-north-1": 3,
        "eu-south-1": 3,
        "eu-south-2": 3,
        "eu-west-1": 3,
        "eu-west-2": 3,
        "eu-west-3": 3,
        "il-central-1": 3,
        "me-central-1": 3,
        "me-south-1": 3,
        "mx-central-1": 3,
        "sa-east-1": 3,
        "us-east-1": 6,
        "us-east-2": 3,
        "us-west-1": 2,
        "us-west-2": 4,
    }
)
