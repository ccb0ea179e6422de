"""One environment: `config/environments/<name>.toml`, a section per layer."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any

from pydantic import Field, ValidationInfo, field_validator, model_validator

from modules.network_plan import DEFAULT_ZONE_SLOTS, NatMode
from settings.archive import ArchiveSettings
from settings.base import NAME, FieldError, Strict, check_region
from settings.database import DatabaseSettings
from settings.edge import EdgeSettings
from settings.project import ACCOUNT_ID
from settings.regions import AVAILABILITY_ZONES_PER_REGION, default_zones
from settings.signing_keys import SigningKeySettings

# The values CloudWatch Logs accepts for a log group's retention.
LOG_RETENTION_DAYS = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
     2922, 3288, 3653}
)  # fmt: skip

# An IAM role ARN (paths allowed): arn:<partition>:iam::<account>:role/<path/name>.
ROLE_ARN = r"^arn:aws(-cn|-us-gov)?:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$"

_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")  # fmt: skip


class NetworkSettings(Strict):
    """`[network]`: the VPC, its zones and how private subnets reach the internet."""

    vpc_cidr: str
    """Private IPv4 range, /16 to /24, apart from every other environment's."""
    az_count: Annotated[int, Field(ge=2)]
    """Availability Zones, one subnet per tier in each."""
    availability_zones: list[str] | None = None
    """Zone names to use, in order; default: the region's first `az_count` zones."""
    nat: NatMode = NatMode.PER_AZ
    """`none` (VPC endpoints only), `single` or `per_az` NAT gateways."""
    zone_slots: Annotated[int, Field(ge=2, le=16)] = DEFAULT_ZONE_SLOTS
    """Zones the address plan leaves room for; zones can be appended up to this number without
    moving a subnet. Changing it re-carves the VPC (every subnet is replaced)."""

    @field_validator("nat", mode="before")
    @classmethod
    def _nat(cls, value: Any) -> NatMode:
        try:
            return NatMode(value)
        except ValueError:
            raise ValueError(f"must be one of {', '.join(m.value for m in NatMode)}") from None

    @field_validator("vpc_cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        try:
            network = ipaddress.IPv4Network(value, strict=True)
        except ValueError as error:
            raise ValueError(f"not a valid IPv4 CIDR block ({error})") from None
        if not 16 <= network.prefixlen <= 24:
            raise ValueError("the VPC prefix length must be between /16 and /24")
        if not network.is_private:
            raise ValueError("must be a private (RFC 1918) range")
        return value

    @property
    def ip_network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.vpc_cidr)


# Keyspaces' per-table throughput quota of a new account (capacity units per second).
_TABLE_UNITS = Field(ge=1, le=40_000)


class TableCapacitySettings(Strict):
    """`[data.provisioned_tables.<table>]`: provisioned capacity of one Keyspaces table, scaled
    by Application Auto Scaling between the minimum and the maximum (units per second)."""

    min_read_units: Annotated[int, _TABLE_UNITS]
    max_read_units: Annotated[int, _TABLE_UNITS]
    min_write_units: Annotated[int, _TABLE_UNITS]
    max_write_units: Annotated[int, _TABLE_UNITS]
    target_utilization_percent: Annotated[int, Field(ge=20, le=90)] = 70
    """Consumed share of the provisioned capacity that scaling aims at (20..90)."""

    @field_validator("max_read_units", "max_write_units")
    @classmethod
    def _max_at_least_min(cls, value: int, info: ValidationInfo) -> int:
        low = info.data.get(info.field_name.replace("max_", "min_"))
        if low is not None and value < low:
            raise ValueError(f"is below {info.field_name.replace('max_', 'min_')} ({low})")
        return value


class DataSettings(Strict):
    """`[data]`: the data stores. Optional section: every field has a default."""

    keyspace_name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,47}$")] | None = None
    """Keyspaces keyspace (unique per account and region); default `<project>_<environment>`.
    The app and the cleanup job are given the same name."""
    provisioned_tables: dict[str, TableCapacitySettings] = Field(default_factory=dict)
    """Keyspaces tables with provisioned, auto-scaled capacity; the others stay on-demand (pay
    per request: right until the traffic is steady and known). Default: all on-demand."""

    @field_validator("provisioned_tables")
    @classmethod
    def _known_tables(
        cls, value: dict[str, TableCapacitySettings]
    ) -> dict[str, TableCapacitySettings]:
        from checkins_data.schema import build_schema  # the tables the code queries

        unknown = sorted(set(value) - {t.name for t in build_schema().tables})
        if unknown:
            raise ValueError(f"unknown tables {unknown}")
        return value

    database: DatabaseSettings = DatabaseSettings()
    """`[data.database]`: the auth service's RDS PostgreSQL."""
    archive: ArchiveSettings = ArchiveSettings()
    """`[data.archive]`: the cleanup job's archive bucket."""
    signing_keys: SigningKeySettings = SigningKeySettings()
    """`[data.signing_keys]`: the auth service's signing-key secret and its rotation."""


class AlarmSettings(Strict):
    """`[alarms]`: who is told when something breaks."""

    email: str
    """Where alarm notifications go (the alarms themselves come with the observability layer)."""

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if len(value) > 254 or not _EMAIL.match(value):
            raise ValueError("not a valid e-mail address")
        return value


class EnvironmentConfig(Strict):
    """One deployment environment (one stack, one state file)."""

    name: Annotated[str, Field(pattern=NAME)]
    region: str
    aws_account_id: Annotated[str, Field(pattern=ACCOUNT_ID)]
    """The account the environment deploys into. Optional in the file: the loader fills in the
    project's `aws_account_id` (docs/accounts.md)."""
    deploy_role_arn: Annotated[str, Field(pattern=ROLE_ARN)] | None = None
    """Role in the environment's account the provider assumes (`assume_role`); None: the
    caller's own credentials. @default None"""
    state_role_arn: Annotated[str, Field(pattern=ROLE_ARN)] | None = None
    """Role the S3 backend assumes to read and write this environment's state; None: the
    caller's own credentials. @default None"""
    log_retention_days: int
    """CloudWatch Logs retention of every log group of the environment."""
    deletion_protection: bool = True
    """Protect stateful resources (Terraform `prevent_destroy`, AWS deletion protection)."""
    network: NetworkSettings
    data: DataSettings = DataSettings()
    edge: EdgeSettings
    alarms: AlarmSettings

    _region = field_validator("region")(check_region)

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(
                f"not a CloudWatch Logs retention (allowed: {sorted(LOG_RETENTION_DAYS)})"
            )
        return value

    @model_validator(mode="after")
    def _deploy_role_in_account(self) -> EnvironmentConfig:
        # allowed_account_ids would refuse the assumed role at plan time: say so now.
        role = self.deploy_role_arn
        if role is not None and role.split(":")[4] != self.aws_account_id:
            raise FieldError(
                "deploy_role_arn",
                role,
                f"is not in the environment's account {self.aws_account_id}",
            )
        return self

    @model_validator(mode="after")
    def _zones_fit_region(self) -> EnvironmentConfig:
        network = self.network
        available = AVAILABILITY_ZONES_PER_REGION[self.region]
        if network.az_count > available:
            raise FieldError(
                "network.az_count",
                network.az_count,
                f"{self.region} has only {available} Availability Zones",
            )
        if network.az_count > network.zone_slots:
            raise FieldError(
                "network.az_count",
                network.az_count,
                f"exceeds network.zone_slots ({network.zone_slots}); raise zone_slots",
            )
        if network.availability_zones is not None:
            zones = network.availability_zones
            if len(zones) != network.az_count or len(set(zones)) != len(zones):
                raise FieldError(
                    "network.availability_zones",
                    zones,
                    f"must name {network.az_count} distinct zones",
                )
            for zone in zones:
                if not re.fullmatch(rf"{re.escape(self.region)}[a-z]", zone):
                    raise FieldError(
                        "network.availability_zones", zone, f"not a zone of {self.region}"
                    )
        return self

    @property
    def zones(self) -> tuple[str, ...]:
        return tuple(
            self.network.availability_zones or default_zones(self.region, self.network.az_count)
        )
