"""Configuration of the cleanup job, read from the environment (prefix ``CLEANUP_``).

The Keyspaces/Cassandra connection has its own settings (prefix ``KEYSPACES_``) in
``checkins_data.connection``, shared with the main app.
"""

from __future__ import annotations

from pydantic import Field, field_validator
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
    time_margin_seconds: float = Field(default=60.0, ge=0)
    """Stop starting new work when the Lambda has less than this much time left."""
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
