"""`[data.database]`: the auth service's RDS PostgreSQL (topology, size, backups, monitoring)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from modules.rds_limits import (
    CLUSTER_INSTANCE_FAMILIES,
    MONITORING_INTERVALS,
    SUPPORTED_MAJORS,
    valid_insights_retention,
    valid_instance_class,
)
from settings.base import FieldError, Strict


class DatabaseSettings(Strict):
    """`[data.database]`. Optional section: every field has a default (a small dev database)."""

    engine_major: int = 17
    """PostgreSQL major version (`SUPPORTED_MAJORS`); minors upgrade automatically in the
    maintenance window. Raising it is a major upgrade (its own change, after a snapshot).
    @default 17"""
    instance_class: str = "db.t4g.micro"
    """`db.<family>.<size>`, e.g. `db.t4g.micro`, `db.r7g.large`. @default db.t4g.micro"""
    allocated_storage_gb: Annotated[int, Field(ge=20, le=65536)] = 20
    """gp3 storage at creation (20 to 65536 GiB). @default 20"""
    max_allocated_storage_gb: Annotated[int, Field(ge=21, le=65536)] | None = 100
    """Storage autoscaling ceiling; absent: no autoscaling. @default 100"""
    multi_az: bool = False
    """A synchronous standby in another zone, failed over to automatically (not readable).
    @default false"""
    read_scale_out: bool = False
    """Readable standbys: the database becomes a Multi-AZ DB cluster (a writer and two readable
    standbys, a reader endpoint). Read replicas are not offered: RDS refuses them for a source
    whose master password RDS manages in Secrets Manager (README, "Auth database"). Needs
    `multi_az` and an instance class of `CLUSTER_INSTANCE_FAMILIES`. @default false"""
    backup_retention_days: Annotated[int, Field(ge=1, le=35)] = 7
    """Automated backups and point-in-time recovery window (1 to 35 days). @default 7"""
    monitoring_interval_seconds: int = 60
    """Enhanced Monitoring granularity (0 = off, 1, 5, 10, 15, 30 or 60). @default 60"""
    insights_retention_days: int = 7
    """Performance Insights retention: 7 (free), 731, or a multiple of 31 below it. @default 7"""
    slow_statement_ms: Annotated[int, Field(ge=0, le=3_600_000)] = 500
    """Statements running longer are logged (`log_min_duration_statement`). @default 500"""
    database_name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")] = "auth"
    """The database the auth service uses. @default auth"""

    @field_validator("engine_major")
    @classmethod
    def _major(cls, value: int) -> int:
        if value not in SUPPORTED_MAJORS:
            raise ValueError(f"must be one of {', '.join(map(str, SUPPORTED_MAJORS))}")
        return value

    @field_validator("instance_class")
    @classmethod
    def _instance_class(cls, value: str) -> str:
        if not valid_instance_class(value):
            raise ValueError(
                "is not an RDS PostgreSQL instance class (db.<family>.<size>, e.g. db.t4g.micro)"
            )
        return value

    @field_validator("monitoring_interval_seconds")
    @classmethod
    def _interval(cls, value: int) -> int:
        if value not in MONITORING_INTERVALS:
            raise ValueError(f"must be one of {', '.join(map(str, MONITORING_INTERVALS))}")
        return value

    @field_validator("insights_retention_days")
    @classmethod
    def _insights(cls, value: int) -> int:
        if not valid_insights_retention(value):
            raise ValueError("must be 7, 731 or a multiple of 31 up to 731")
        return value

    @model_validator(mode="after")
    def _topology_fits(self) -> DatabaseSettings:
        ceiling = self.max_allocated_storage_gb
        if ceiling is not None and ceiling <= self.allocated_storage_gb:
            raise FieldError(
                "data.database.max_allocated_storage_gb",
                ceiling,
                f"must exceed data.database.allocated_storage_gb ({self.allocated_storage_gb})",
            )
        if self.read_scale_out:
            if not self.multi_az:
                raise FieldError(
                    "data.database.read_scale_out",
                    True,
                    "readable standbys come with a Multi-AZ DB cluster: set multi_az = true",
                )
            family = re.sub(r"^db\.([a-z0-9-]+)\..*$", r"\1", self.instance_class)
            if family not in CLUSTER_INSTANCE_FAMILIES:
                raise FieldError(
                    "data.database.instance_class",
                    self.instance_class,
                    f"a Multi-AZ DB cluster (read_scale_out) runs only on "
                    f"{', '.join(f'db.{f}' for f in CLUSTER_INSTANCE_FAMILIES)}",
                )
            if ceiling is not None:
                raise FieldError(
                    "data.database.max_allocated_storage_gb",
                    ceiling,
                    "a Multi-AZ DB cluster has no storage autoscaling: leave it out",
                )
        return self
