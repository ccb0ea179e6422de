"""`[edge]`: the public entry point: the domain and its certificate, and the WAF's limits."""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator

from modules.waf_limits import EVALUATION_WINDOWS, RATE_LIMIT_RANGE
from settings.base import FieldError, Strict

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_ZONE_ID = re.compile(r"^Z[A-Z0-9]{1,31}$")
_PATH_PREFIX = re.compile(r"^/[A-Za-z0-9/_.~-]{0,199}$")
_RATE = Field(ge=RATE_LIMIT_RANGE[0], le=RATE_LIMIT_RANGE[1])


class CertificateValidation(StrEnum):
    ROUTE53 = "route53"
    """The validation records are created in `zone_id` (a Route 53 zone of this account)."""
    EXTERNAL = "external"
    """Someone creates them in the DNS that holds the domain (the `certificate_validation_records`
    output lists them); the apply waits, up to 75 minutes, until ACM has issued the
    certificate."""


class AllowListSettings(Strict):
    """`[edge.allow_list]`: only these client addresses may reach the API (or its admin paths)."""

    cidrs: list[str]
    """IPv4 CIDR blocks, e.g. `203.0.113.0/24`."""
    path_prefixes: list[str] = Field(default_factory=list)
    """Admin path prefixes the list guards; empty: the whole API. @default []"""

    @field_validator("cidrs")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("must name at least one CIDR block")
        for cidr in value:
            try:
                network = ipaddress.ip_network(cidr, strict=True)
            except ValueError as error:
                raise ValueError(f"{cidr!r} is not a valid CIDR block ({error})") from None
            if network.version != 4:
                raise ValueError(f"{cidr!r} is IPv6; the load balancer listens on IPv4 only")
        if len(set(value)) != len(value):
            raise ValueError("names a CIDR block twice")
        return value

    @field_validator("path_prefixes")
    @classmethod
    def _paths(cls, value: list[str]) -> list[str]:
        bad = [p for p in value if not _PATH_PREFIX.match(p)]
        if bad:
            raise ValueError(f"{bad[0]!r} is not a path starting with /")
        return value


class EdgeSettings(Strict):
    """`[edge]`: required: every environment serves its API at its own domain."""

    domain_name: str
    """The API's name, e.g. `api.dev.example.com`: the certificate's name."""
    certificate_validation: CertificateValidation
    """How ACM's DNS validation records come to exist: `route53` (in `zone_id`) or `external`
    (someone else's DNS; the apply waits for them)."""
    zone_id: str | None = None
    """Route 53 hosted zone holding `domain_name`; required with `route53`. @default None"""
    rate_limit_per_ip: Annotated[int, _RATE] = 1000
    """Requests per client IP per `rate_window_seconds` before WAF blocks it. The mobile app
    checks in periodically: size it well above one device's rate. @default 1000"""
    login_rate_limit_per_ip: Annotated[int, _RATE] = 100
    """The same on the login path (password guessing). @default 100"""
    rate_window_seconds: int = 300
    """The rate rules' evaluation window: 60, 120, 300 or 600. @default 300"""
    allow_list: AllowListSettings | None = None
    """Optional IP allow list. @default None"""

    @field_validator("certificate_validation", mode="before")
    @classmethod
    def _validation(cls, value: Any) -> CertificateValidation:
        try:
            return CertificateValidation(value)
        except ValueError:
            raise ValueError(
                f"must be one of {', '.join(v.value for v in CertificateValidation)}"
            ) from None

    @field_validator("domain_name")
    @classmethod
    def _domain(cls, value: str) -> str:
        if not _DOMAIN.match(value):
            raise ValueError("not a lower-case domain name (labels of a-z, 0-9, -)")
        return value

    @field_validator("zone_id")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None and not _ZONE_ID.match(value):
            raise ValueError("not a Route 53 hosted zone id (Z followed by letters and digits)")
        return value

    @field_validator("rate_window_seconds")
    @classmethod
    def _window(cls, value: int) -> int:
        if value not in EVALUATION_WINDOWS:
            raise ValueError(f"must be one of {', '.join(map(str, EVALUATION_WINDOWS))}")
        return value

    @model_validator(mode="after")
    def _certificate_settings(self) -> EdgeSettings:
        route53 = self.certificate_validation is CertificateValidation.ROUTE53
        if route53 and self.zone_id is None:
            raise FieldError(
                "edge.zone_id",
                None,
                "is required with certificate_validation = route53 (the zone that gets the "
                "validation records)",
            )
        if not route53 and self.zone_id is not None:
            raise FieldError(
                "edge.zone_id",
                self.zone_id,
                "is only used with certificate_validation = route53",
            )
        if self.login_rate_limit_per_ip > self.rate_limit_per_ip:
            raise FieldError(
                "edge.login_rate_limit_per_ip",
                self.login_rate_limit_per_ip,
                f"exceeds rate_limit_per_ip ({self.rate_limit_per_ip}): the login limit is the "
                "tighter one",
            )
        return self
