"""What every settings model shares: strictness, the error types and the common checks."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from settings.regions import AVAILABILITY_ZONES_PER_REGION

# S3 bucket naming rules, minus the legacy dotted names (they break TLS virtual-host access).
BUCKET_NAME = r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$"
NAME = r"^[a-z][a-z0-9-]{1,14}[a-z0-9]$"


class ConfigError(Exception):
    """A configuration value is invalid; the message names the source, the field and the value."""


class Strict(BaseModel):
    """Unknown fields are errors, values are never coerced, models are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class FieldError(ValueError):
    """Raised by a model-level check that still belongs to one field (dotted path)."""

    def __init__(self, field: str, value: Any, reason: str) -> None:
        super().__init__(reason)
        self.field, self.value, self.reason = field, value, reason


def check_region(value: str) -> str:
    if value not in AVAILABILITY_ZONES_PER_REGION:
        raise ValueError(f"unknown AWS region (known: {', '.join(AVAILABILITY_ZONES_PER_REGION)})")
    return value
