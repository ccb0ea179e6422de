"""The service's settings, read once from the environment (prefix `APP_`).

The Keyspaces/Cassandra connection has its own settings model (prefix `KEYSPACES_`) in the
shared `checkins_data` package, so the app and the cleanup job configure it the same way.
`load_settings()` turns an invalid environment into one ConfigError naming the variables.
"""

from __future__ import annotations

from checkins_data.connection import KeyspacesSettings
from pydantic import Field, HttpUrl, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from service_kit import settings as kit
from service_kit.server import ServerSettings

from checkins_app.core.cursor import MIN_KEY_BYTES


class Settings(BaseSettings, ServerSettings):
    """The app's settings; the run command's APP_HOST, APP_PORT, APP_LOG_LEVEL,
    APP_ACCESS_LOG and APP_SHUTDOWN_DRAIN_SECONDS come from ServerSettings."""

    model_config = SettingsConfigDict(env_prefix="APP_", extra="ignore", frozen=True)

    # --- Access tokens (see the token contract with the auth service) ---
    auth_jwks_url: HttpUrl = Field(
        description="The auth service's JWKS document, e.g. https://auth.example.com/.well-known/jwks.json"
    )
    auth_issuer: str = Field(min_length=1, description="Expected `iss` of access tokens")
    auth_audience: str = Field(default="platform-api", min_length=1)
    # Plain HTTP for the JWKS is only for a local auth service on loopback (development, benchmark).
    auth_jwks_allow_http: bool = False
    # The auth service sends `Cache-Control: max-age=300`: refresh on the same rhythm.
    auth_jwks_ttl_seconds: float = Field(default=300, gt=0)
    # A token with an unknown `kid` triggers at most one refetch per interval, so forged kids
    # cannot turn the app into a load generator against the auth service.
    auth_jwks_min_refetch_seconds: float = Field(default=30, ge=0)
    # How long keys stay usable past their TTL while the auth service cannot be reached.
    auth_jwks_max_stale_seconds: float = Field(default=6 * 3600, ge=0)
    auth_jwks_timeout_seconds: float = Field(default=2.0, gt=0)
    # Tolerated clock skew for exp/nbf/iat.
    auth_leeway_seconds: int = Field(default=30, ge=0, le=300)

    # --- Input limits ---
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    # Device clocks drift; anything further ahead than this is rejected.
    max_future_skew_seconds: int = Field(default=300, ge=0, le=3600)
    # Oldest accepted (and readable) check-in. Must stay below the archive retention of the
    # cleanup job: the in-memory "index row already written" cache relies on it.
    max_age_days: int = Field(default=30, ge=1, le=365)
    # `GET .../checkins` without `since` looks back this far.
    default_lookback_days: int = Field(default=7, ge=1, le=365)
    # The cleanup job's archive retention (its CLEANUP_APP_MAX_AGE_DAYS), when known: it must
    # exceed max_age_days, or the app would not re-write the index rows of days the job has
    # already cleaned and their rows would stay forever. Checked at start-up.
    cleanup_retention_days: int | None = Field(default=None, ge=1, le=3650)

    # --- Paging ---
    # HMAC-SHA256 keys of the paging cursors, comma-separated, each at least 32 characters:
    # the first signs, all verify (rotation: put the new key first, drop the old one once
    # cursors signed with it have expired). A secret: from Secrets Manager on AWS.
    cursor_keys: SecretStr = Field(description="Cursor signing keys, current first")
    # Time budget of one read: a page that reaches it answers with what it has and a cursor.
    read_deadline_seconds: float = Field(default=2.0, gt=0, le=30)

    # --- Operations ---
    # Sent with every 503 so clients back off instead of hammering a struggling cluster.
    retry_after_seconds: int = Field(default=2, ge=1, le=300)

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.auth_jwks_url.scheme != "https" and not self.auth_jwks_allow_http:
            raise ValueError(
                "APP_AUTH_JWKS_URL must use https (set APP_AUTH_JWKS_ALLOW_HTTP=true only for a "
                "local auth service)"
            )
        if self.default_lookback_days > self.max_age_days:
            raise ValueError("APP_DEFAULT_LOOKBACK_DAYS must not exceed APP_MAX_AGE_DAYS")
        if (
            self.cleanup_retention_days is not None
            and self.cleanup_retention_days <= self.max_age_days
        ):
            raise ValueError(
                f"APP_CLEANUP_RETENTION_DAYS ({self.cleanup_retention_days}) must be greater "
                f"than APP_MAX_AGE_DAYS ({self.max_age_days}): the cleanup job would remove "
                "days the app still writes to"
            )
        keys = self.cursor_key_list()
        if any(len(key) < MIN_KEY_BYTES for key in keys):
            raise ValueError(
                f"APP_CURSOR_KEYS: every comma-separated key must be at least {MIN_KEY_BYTES} "
                "characters"
            )
        return self

    def cursor_key_list(self) -> list[bytes]:
        """The cursor keys, current first (empty entries are ignored)."""
        raw = self.cursor_keys.get_secret_value()
        return [part.strip().encode() for part in raw.split(",") if part.strip()]


def load_settings(**overrides: object) -> Settings:
    """The app's settings from the environment (``overrides`` win), or a ConfigError."""
    return kit.load_settings(Settings, "check-ins app", **overrides)


def load_keyspaces_settings() -> KeyspacesSettings:
    """The KEYSPACES_* connection settings, or a ConfigError."""
    return kit.load_settings(KeyspacesSettings, "check-ins app Keyspaces")
