"""Configuration of the cleanup job, read from the environment (prefix ``CLEANUP_``).

The Keyspaces/Cassandra connection has its own settings (prefix ``KEYSPACES_``) in
``checkins_data.connection``, shared with the main app.

Bad settings are refused before anything is touched, with one line naming each bad setting and
its allowed range (:func:`load_settings`, :class:`ConfigError`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import annotated_types
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, SettingsConfigDict

MIB = 1024 * 1024
# S3 rejects multipart parts smaller than 5 MiB (except the last one).
S3_MIN_PART_SIZE = 5 * MIB


class CleanupSettings(BaseSettings):
    """Everything the job needs besides the Keyspaces connection."""

    model_config = SettingsConfigDict(env_prefix="CLEANUP_", frozen=True, extra="ignore")

    archive_bucket: str = Field(min_length=3, max_length=63)
    """Bucket receiving the archive objects and the day manifests."""
    archive_prefix: str = "checkins"
    """Hive table location inside the bucket: ``<prefix>/dt=YYYY-MM-DD/device=<uuid>/...``."""
    manifest_prefix: str = "manifests/checkins"
    """Where the per-day manifests go; outside the table location so Athena never reads them."""
    kms_key_id: str | None = None
    """KMS key (id, ARN or alias) for SSE-KMS; ``None`` means the bucket's default KMS key."""
    retention_days: int = Field(default=90, ge=2, le=3650)
    """UTC days strictly older than ``today - retention_days`` are archived and deleted."""
    app_max_age_days: int | None = Field(default=None, ge=1, le=365)
    """The app's ``APP_MAX_AGE_DAYS`` (oldest check-in it accepts), set by the stack from the
    same configuration value; ``retention_days`` must be greater. Required by the job
    (:func:`check_job_settings`); the restore command does not need it."""
    s3_endpoint_url: str | None = None
    """Custom S3 endpoint (tests, VPC endpoints); ``None`` uses the regional endpoint."""
    s3_region: str | None = None
    dry_run: bool = False
    """Read and serialise everything, write nothing (no S3 object, no Cassandra delete)."""
    fetch_size: int = Field(default=1000, ge=10, le=10_000)
    """Rows per driver page (Keyspaces caps a page at 1 MB anyway)."""
    part_size: int = Field(default=8 * MIB, ge=S3_MIN_PART_SIZE, le=512 * MIB)
    """Multipart part size; objects up to this size go up in one PutObject."""
    concurrency: int = Field(default=4, ge=1, le=32)
    """Partitions of a day processed at once (each holds at most two pages and one part)."""
    verify_reread: bool = True
    """After the HEAD check, read the object back (SHA-256 and row count) before deleting."""
    time_margin_seconds: float = Field(default=60.0, ge=0, le=600)
    """Stop starting new work when the Lambda has less than this much time left."""
    lease_seconds: int = Field(default=300, ge=60, le=900)
    """A run's lease on the day it works on; renewed while the run works on the day. A run
    killed holding one blocks that day for at most this long."""
    spool_dir: str | None = None
    """Folder for the per-partition spool file (Lambda: /tmp); ``None`` = system default."""
    environment: str = "dev"
    """Dimension value of the CloudWatch metrics."""
    metric_namespace: str = "Checkins/Cleanup"

    @field_validator("archive_prefix", "manifest_prefix")
    @classmethod
    def _strip_slashes(cls, value: str) -> str:
        value = value.strip("/")
        if not value:
            raise ValueError("must not be empty")
        return value

    @model_validator(mode="after")
    def _retention_beyond_the_app(self) -> CleanupSettings:
        # The app writes (and caches the index rows of) days up to APP_MAX_AGE_DAYS old; the job
        # must never clean a day the app can still write to.
        if self.app_max_age_days is not None and self.retention_days <= self.app_max_age_days:
            raise ValueError(
                f"CLEANUP_RETENTION_DAYS={self.retention_days} must be greater than "
                f"CLEANUP_APP_MAX_AGE_DAYS={self.app_max_age_days} (the app's APP_MAX_AGE_DAYS)"
            )
        return self


class ConfigError(ValueError):
    """Settings refused at start-up; ``str()`` is one line naming each setting and its range."""


def allowed(field: FieldInfo) -> str | None:
    """The documented range of a bounded setting, e.g. ``10 to 10000``; None when unbounded."""
    low = high = None
    unit = ""
    for item in field.metadata:
        if isinstance(item, annotated_types.Ge):
            low = item.ge
        elif isinstance(item, annotated_types.Le):
            high = item.le
        elif isinstance(item, annotated_types.MinLen):
            low, unit = item.min_length, " characters"
        elif isinstance(item, annotated_types.MaxLen):
            high, unit = item.max_length, " characters"
    if low is not None and high is not None:
        return f"{low} to {high}{unit}"
    if low is not None:
        return f">= {low}{unit}"
    if high is not None:
        return f"<= {high}{unit}"
    return None


def describe_errors(
    error: ValidationError, model: type[BaseSettings], prefix: str, environ: Mapping[str, str]
) -> str:
    """One line for every problem of a settings model, by environment variable name."""
    problems = []
    for item in error.errors():
        if not item["loc"]:  # a check across settings: its message names them
            problems.append(str(item["msg"]).removeprefix("Value error, "))
            continue
        name = str(item["loc"][0])
        variable = f"{prefix}{name.upper()}"
        field = model.model_fields.get(name)
        rng = allowed(field) if field is not None else None
        if item["type"] == "missing":
            text = f"{variable} is required"
        else:
            shown = environ.get(variable, item.get("input"))
            text = f"{variable}={shown!s} is invalid"
        if rng is not None:
            text += f" (allowed: {rng})"
        elif item["type"] != "missing":
            text += f" ({str(item['msg']).removeprefix('Value error, ')})"
        problems.append(text)
    return "; ".join(problems)


def check_job_settings(settings: CleanupSettings) -> None:
    """What a run needs beyond what the restore command needs: the app's maximum age."""
    if settings.app_max_age_days is None:
        field = CleanupSettings.model_fields["app_max_age_days"]
        raise ConfigError(
            f"CLEANUP_APP_MAX_AGE_DAYS is required (allowed: {allowed(field)}; the app's "
            "APP_MAX_AGE_DAYS, which CLEANUP_RETENTION_DAYS must exceed)"
        )


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> CleanupSettings:
    """The job's settings from the environment, or :class:`ConfigError` with one line."""
    import os

    environ = os.environ if environ is None else environ
    try:
        return CleanupSettings(**overrides)
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc, CleanupSettings, "CLEANUP_", environ)) from None


def load_keyspaces(environ: Mapping[str, str] | None = None) -> Any:
    """The ``KEYSPACES_*`` connection settings, or :class:`ConfigError` with one line."""
    import os

    from checkins_data.connection import KeyspacesSettings

    environ = os.environ if environ is None else environ
    try:
        return KeyspacesSettings()
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc, KeyspacesSettings, "KEYSPACES_", environ)) from None
