"""Typed, validated platform configuration.

One TOML file per environment under `config/environments/<name>.toml` (adding an environment is
adding a file) and the settings they share in `config/project.toml`. Every value is checked before
any construct exists, and a bad one raises `ConfigError` naming the file, the field and the value.
"""

from __future__ import annotations

import ipaddress
import itertools
import re
import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from stacks.regions import AVAILABILITY_ZONES_PER_REGION, default_zones

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"

# The values CloudWatch Logs accepts for a log group's retention.
LOG_RETENTION_DAYS = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
     2922, 3288, 3653}
)  # fmt: skip

_NAME = r"^[a-z][a-z0-9-]{1,14}[a-z0-9]$"
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")  # fmt: skip
# S3 bucket naming rules, minus the legacy dotted names (they break TLS virtual-host access).
_BUCKET = r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$"


_M = TypeVar("_M", bound=BaseModel)


class ConfigError(Exception):
    """A configuration value is invalid; the message names the source, the field and the value."""


class NatMode(StrEnum):
    """How private subnets reach the internet."""

    NONE = "none"  # VPC endpoints only: no NAT gateway at all
    SINGLE = "single"  # one NAT gateway in the first AZ (cheap, one AZ of failure)
    PER_AZ = "per_az"  # one NAT gateway per AZ (highly available)


def _check_region(value: str) -> str:
    if value not in AVAILABILITY_ZONES_PER_REGION:
        raise ValueError(f"unknown AWS region (known: {', '.join(AVAILABILITY_ZONES_PER_REGION)})")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class StateConfig(_Strict):
    """Where every environment keeps its Terraform state."""

    bucket: Annotated[str, Field(pattern=_BUCKET)]
    region: str
    noncurrent_version_retention_days: Annotated[int, Field(ge=1, le=3650)] = 90

    _region = field_validator("region")(_check_region)


class ProjectConfig(_Strict):
    """Settings shared by all environments."""

    project: Annotated[str, Field(pattern=_NAME)]
    owner: Annotated[str, Field(min_length=1, max_length=128)]
    repository: Annotated[str, Field(min_length=1, max_length=256)]
    aws_account_id: Annotated[str, Field(pattern=r"^\d{12}$")]
    state: StateConfig


class EnvironmentConfig(_Strict):
    """One deployment environment (one stack, one state file)."""

    name: Annotated[str, Field(pattern=_NAME)]
    region: str
    vpc_cidr: str
    az_count: Annotated[int, Field(ge=2)]
    availability_zones: list[str] | None = None
    """Zone names to use, in order; default: the region's first `az_count` zones."""
    nat: NatMode = NatMode.PER_AZ
    log_retention_days: int
    alarm_email: str
    deletion_protection: bool = True

    _region = field_validator("region")(_check_region)

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

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(
                f"not a CloudWatch Logs retention (allowed: {sorted(LOG_RETENTION_DAYS)})"
            )
        return value

    @field_validator("alarm_email")
    @classmethod
    def _email(cls, value: str) -> str:
        if len(value) > 254 or not _EMAIL.match(value):
            raise ValueError("not a valid e-mail address")
        return value

    @model_validator(mode="after")
    def _zones_fit_region(self) -> EnvironmentConfig:
        available = AVAILABILITY_ZONES_PER_REGION[self.region]
        if self.az_count > available:
            raise _FieldError(
                "az_count", self.az_count, f"{self.region} has only {available} Availability Zones"
            )
        if self.availability_zones is not None:
            zones = self.availability_zones
            if len(zones) != self.az_count or len(set(zones)) != len(zones):
                raise _FieldError(
                    "availability_zones", zones, f"must name {self.az_count} distinct zones"
                )
            for zone in zones:
                if not re.fullmatch(rf"{re.escape(self.region)}[a-z]", zone):
                    raise _FieldError("availability_zones", zone, f"not a zone of {self.region}")
        return self

    @property
    def zones(self) -> tuple[str, ...]:
        return tuple(self.availability_zones or default_zones(self.region, self.az_count))

    @property
    def network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.vpc_cidr)


class PlatformConfig(_Strict):
    """The project settings and the selected environments, checked together."""

    project: ProjectConfig
    environments: tuple[EnvironmentConfig, ...]


class _FieldError(ValueError):
    """Raised by a model-level check that still belongs to one field."""

    def __init__(self, field: str, value: Any, reason: str) -> None:
        super().__init__(reason)
        self.field, self.value, self.reason = field, value, reason


def available_environments(config_dir: Path = CONFIG_DIR) -> list[str]:
    return sorted(p.stem for p in (config_dir / "environments").glob("*.toml"))


def load_platform(names: list[str] | None = None, config_dir: Path = CONFIG_DIR) -> PlatformConfig:
    """Load and validate the project file and the named environments (default: all of them)."""
    known = available_environments(config_dir)
    selected = known if names is None else names
    if not selected:
        raise ConfigError(f"no environments selected (known: {', '.join(known)})")
    for name in selected:
        if name not in known:
            raise ConfigError(
                f"environment: unknown environment {name!r} "
                f"(known: {', '.join(known)}; add config/environments/{name}.toml)"
            )
    project = _validate(ProjectConfig, _read(config_dir / "project.toml"), "config/project.toml")
    environments = tuple(
        _validate(
            EnvironmentConfig,
            {"name": name, **_read(config_dir / "environments" / f"{name}.toml")},
            f"config/environments/{name}.toml",
        )
        for name in selected
    )
    _check_no_overlap(environments)
    return PlatformConfig(project=project, environments=environments)


def _check_no_overlap(environments: tuple[EnvironmentConfig, ...]) -> None:
    # Environments may be peered or joined by a transit gateway later: keep their ranges apart.
    for a, b in itertools.combinations(environments, 2):
        if a.network.overlaps(b.network):
            raise ConfigError(
                f"config/environments/{b.name}.toml: vpc_cidr = {b.vpc_cidr!r}: "
                f"overlaps {a.name}'s vpc_cidr {a.vpc_cidr!r}"
            )


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path.name}: file not found: {path}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path.name}: not valid TOML: {error}") from None


def _validate(model: type[_M], data: dict[str, Any], source: str) -> _M:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        ctx_error = (first.get("ctx") or {}).get("error")
        if isinstance(ctx_error, _FieldError):
            raise ConfigError(
                f"{source}: {ctx_error.field} = {ctx_error.value!r}: {ctx_error.reason}"
            ) from None
        field = ".".join(str(part) for part in first["loc"]) or "(file)"
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "missing":
            raise ConfigError(f"{source}: {field}: required field is missing") from None
        if first["type"] == "extra_forbidden":
            raise ConfigError(f"{source}: {field}: unknown field") from None
        raise ConfigError(f"{source}: {field} = {first.get('input')!r}: {message}") from None
