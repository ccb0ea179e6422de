"""`[data.archive]`: the cleanup job's archive bucket: lifecycle and object lock."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator

from modules.s3_limits import MAX_OBJECT_LOCK_DAYS, TRANSITION_MIN_DAYS
from settings.base import FieldError, Strict

# The colder classes the archive may move to. GLACIER and DEEP_ARCHIVE are left out on purpose:
# their objects need a restore request before GetObject, which the job's verification and restore
# command never make; ONEZONE_IA would keep the only copy of deleted data in one zone.
ARCHIVE_STORAGE_CLASSES = ("GLACIER_IR", "STANDARD_IA", "INTELLIGENT_TIERING")


class ObjectLockMode(StrEnum):
    OFF = "off"
    GOVERNANCE = "governance"
    COMPLIANCE = "compliance"


class ArchiveSettings(Strict):
    """`[data.archive]`. Optional section: every field has a default."""

    transition_days: Annotated[int, Field(ge=0)] = 30
    """Days after which archive objects move to `storage_class`. @default 30"""
    storage_class: str = "GLACIER_IR"
    """The colder class: one of `ARCHIVE_STORAGE_CLASSES`. @default GLACIER_IR (instant retrieval:
    Athena and the restore command read it like STANDARD)"""
    expire_after_days: Annotated[int, Field(ge=1)] | None = None
    """Days after which archive objects are deleted; absent: kept for ever. Must come after the
    transition and, with object lock, not before the retention ends. @default None"""
    object_lock: ObjectLockMode = ObjectLockMode.GOVERNANCE
    """S3 Object Lock default retention of every new object version: `governance` (a principal
    with `s3:BypassGovernanceRetention` can still delete), `compliance` (nobody can, not even the
    account root) or `off`. Enabled when the bucket is created: turning it on later replaces the
    bucket (which `prevent_destroy` refuses). @default governance"""
    object_lock_days: Annotated[int, Field(ge=1)] = 365
    """Retention of each object version under object lock. @default 365"""

    @field_validator("object_lock", mode="before")
    @classmethod
    def _mode(cls, value: Any) -> ObjectLockMode:
        try:
            return ObjectLockMode(value)
        except ValueError:
            raise ValueError(
                f"must be one of {', '.join(m.value for m in ObjectLockMode)}"
            ) from None

    @field_validator("storage_class")
    @classmethod
    def _storage_class(cls, value: str) -> str:
        if value not in ARCHIVE_STORAGE_CLASSES:
            raise ValueError(f"must be one of {', '.join(ARCHIVE_STORAGE_CLASSES)}")
        return value

    @field_validator("object_lock_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value > MAX_OBJECT_LOCK_DAYS:
            raise ValueError(f"is above S3's maximum retention of {MAX_OBJECT_LOCK_DAYS} days")
        return value

    @model_validator(mode="after")
    def _lifecycle_fits(self) -> ArchiveSettings:
        least = TRANSITION_MIN_DAYS[self.storage_class]
        if self.transition_days < least:
            raise FieldError(
                "data.archive.transition_days",
                self.transition_days,
                f"S3 moves objects to {self.storage_class} after {least} days at the earliest",
            )
        expiry = self.expire_after_days
        if expiry is not None and expiry <= self.transition_days:
            raise FieldError(
                "data.archive.expire_after_days",
                expiry,
                f"must come after the transition (data.archive.transition_days = "
                f"{self.transition_days})",
            )
        if (
            expiry is not None
            and self.object_lock is not ObjectLockMode.OFF
            and expiry < self.object_lock_days
        ):
            raise FieldError(
                "data.archive.expire_after_days",
                expiry,
                f"is before the object lock retention ends (data.archive.object_lock_days = "
                f"{self.object_lock_days}): nothing could be deleted then",
            )
        return self
