"""Service configuration, read from environment variables (ECS fills them from Secrets Manager).

Every variable is prefixed ``AUTH_``. ``load_settings()`` turns pydantic's validation errors
into one ``service_kit.settings.ConfigError`` that names each missing or invalid variable.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal, Self, TypeVar

from psycopg.conninfo import make_conninfo
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from service_kit import settings as kit
from service_kit.server import ServerSettings

ENV_PREFIX = "AUTH_"
SslMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
TLS_MODES = frozenset({"require", "verify-ca", "verify-full"})
# How the service proves who it is to PostgreSQL: a password (local runs, tests, the migration
# task with the RDS master secret) or an IAM authentication token per new connection (on RDS).
DbAuth = Literal["password", "iam"]
AWS_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")
SECRET_ARN = re.compile(
    r"arn:aws[a-z-]*:secretsmanager:[a-z]{2}(-[a-z]+)+-\d:\d{12}:secret:[\w/+=.@-]+"
)


class DatabaseSettings(BaseSettings):
    """What the migration command needs: where the database is and how to reach it."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    # Database: either a URL or its parts (ECS injects the RDS secret's fields one by one).
    database_url: SecretStr | None = None
    db_host: str | None = None
    db_port: int = Field(default=5432, ge=1, le=65535)
    db_name: str | None = None
    db_user: str | None = None
    db_password: SecretStr | None = None
    # `iam`: no stored password; the pool signs an RDS IAM token for every new connection.
    db_auth: DbAuth = "password"
    db_region: str | None = None
    db_sslmode: SslMode = "require"
    db_sslrootcert: str | None = None
    # TLS to the database is required unless explicitly switched off (local runs, tests).
    db_require_tls: bool = True
    db_pool_min_size: int = Field(default=2, ge=0)
    db_pool_max_size: int = Field(default=10, ge=1)
    db_connect_timeout_seconds: int = Field(default=5, ge=1)
    db_pool_timeout_seconds: float = Field(default=5.0, gt=0)
    db_statement_timeout_ms: int = Field(default=5000, ge=100)
    migrate_on_start: bool = False

    @field_validator("db_region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is not None and not AWS_REGION.fullmatch(value):
            raise ValueError("must be an AWS region, e.g. eu-west-1")
        return value

    @model_validator(mode="after")
    def _database_described(self) -> Self:
        if self.db_auth == "iam":
            self._iam_described()
        else:
            self._password_described()
        if self.db_pool_min_size > self.db_pool_max_size:
            raise ValueError(f"{ENV_PREFIX}DB_POOL_MIN_SIZE exceeds {ENV_PREFIX}DB_POOL_MAX_SIZE")
        return self

    def _password_described(self) -> None:
        if self.database_url is None:
            missing = [
                f"{ENV_PREFIX}{name.upper()}"
                for name in ("db_host", "db_name", "db_user", "db_password")
                if getattr(self, name) is None
            ]
            if missing:
                raise ValueError(
                    f"set {ENV_PREFIX}DATABASE_URL or all of {ENV_PREFIX}DB_HOST, "
                    f"{ENV_PREFIX}DB_NAME, {ENV_PREFIX}DB_USER, {ENV_PREFIX}DB_PASSWORD; "
                    f"missing: {', '.join(missing)}"
                )
        if self.db_require_tls and self.db_sslmode not in TLS_MODES:
            raise ValueError(
                f"{ENV_PREFIX}DB_SSLMODE={self.db_sslmode} does not encrypt; use require, "
                f"verify-ca or verify-full (or set {ENV_PREFIX}DB_REQUIRE_TLS=false locally)"
            )

    def _iam_described(self) -> None:
        """IAM authentication: every part named, no password anywhere, the server verified."""
        iam = f"with {ENV_PREFIX}DB_AUTH=iam"
        problems: list[str] = []
        if self.database_url is not None:
            problems.append(
                f"{ENV_PREFIX}DATABASE_URL: not allowed {iam} (a URL carries a password), "
                f"set {ENV_PREFIX}DB_HOST, {ENV_PREFIX}DB_PORT, {ENV_PREFIX}DB_NAME, "
                f"{ENV_PREFIX}DB_USER and {ENV_PREFIX}DB_REGION instead"
            )
        if self.db_password is not None:
            problems.append(
                f"{ENV_PREFIX}DB_PASSWORD: not allowed {iam} (each new connection signs its "
                "own token, no password is stored)"
            )
        missing = [
            f"{ENV_PREFIX}{name.upper()}"
            for name in ("db_host", "db_name", "db_user", "db_region")
            if getattr(self, name) is None
        ]
        if missing and self.database_url is None:
            problems.append(f"missing {iam}: {', '.join(missing)}")
        if self.db_sslmode != "verify-full":
            problems.append(
                f"{ENV_PREFIX}DB_SSLMODE={self.db_sslmode}: {iam} it must be verify-full (the "
                "token is sent as the password: only to the verified RDS endpoint)"
            )
        if self.db_sslrootcert is None:
            problems.append(
                f"{ENV_PREFIX}DB_SSLROOTCERT: required {iam} (the RDS CA bundle, e.g. "
                "/etc/ssl/certs/rds-global-bundle.pem)"
            )
        elif not Path(self.db_sslrootcert).is_file():
            problems.append(
                f"{ENV_PREFIX}DB_SSLROOTCERT: no such file: {self.db_sslrootcert} (the RDS CA "
                "bundle)"
            )
        if self.migrate_on_start:
            problems.append(
                f"{ENV_PREFIX}MIGRATE_ON_START=true: not allowed {iam} (the service's role "
                "has no DDL rights: migrations run as a one-off task with the master secret)"
            )
        if problems:
            raise ValueError("; ".join(problems))

    def conninfo(self, *, password: bool = True) -> str:
        """libpq connection string; explicit TLS settings override anything in the URL.

        ``password=False`` leaves ``AUTH_DB_PASSWORD`` out: the pool takes the password from a
        password provider each time it opens a connection (store/db_auth.py). With
        ``AUTH_DB_AUTH=iam`` there is no password in it either way."""
        extra: dict[str, object] = {
            "sslmode": self.db_sslmode,
            "connect_timeout": self.db_connect_timeout_seconds,
            "application_name": "auth-service",
            "options": f"-c statement_timeout={self.db_statement_timeout_ms}",
        }
        if self.db_sslrootcert:
            extra["sslrootcert"] = self.db_sslrootcert
        if self.database_url is not None:
            return make_conninfo(self.database_url.get_secret_value(), **extra)
        secret = self.db_password.get_secret_value() if password and self.db_password else None
        return make_conninfo(
            host=self.db_host,
            port=self.db_port,
            dbname=self.db_name,
            user=self.db_user,
            password=secret,
            **extra,
        )


class Settings(DatabaseSettings, ServerSettings):
    """Everything the service needs (the run command's AUTH_HOST, AUTH_PORT, AUTH_LOG_LEVEL,
    AUTH_SHUTDOWN_DRAIN_SECONDS, AUTH_ACCESS_LOG come from ServerSettings)."""

    # Stated again: a mixed-in base must not reset the prefix.
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    # Tokens. Signing keys: from Secrets Manager on AWS, from the environment locally (one of).
    signing_keys: SecretStr | None = Field(
        default=None,
        description="JSON JWK Set of private P-256 keys (local runs and tests only); the first "
        "one signs, all are published",
    )
    signing_keys_secret_arn: str | None = Field(
        default=None,
        description="Secrets Manager secret holding the key set (written by the rotation "
        "function), read at start and every signing_keys_refresh_seconds",
    )
    # Well below the rotation's publish delay (an hour by default), so every task publishes a
    # new key long before it signs.
    signing_keys_refresh_seconds: int = Field(default=300, ge=10, le=3600)
    issuer: str = Field(min_length=1, description="`iss` of every access token")
    audience: str = Field(default="platform-api", min_length=1)
    access_token_ttl_seconds: int = Field(default=900, ge=30, le=3600)
    refresh_token_ttl_seconds: int = Field(default=30 * 24 * 3600, ge=300)
    # However often it is refreshed, a login ends after this (a stolen chain cannot live on).
    refresh_family_max_seconds: int = Field(default=90 * 24 * 3600, ge=300)
    api_key_max_per_user: int = Field(default=20, ge=1)

    # Passwords: Argon2id, OWASP Password Storage Cheat Sheet (m=19 MiB, t=2, p=1).
    argon2_time_cost: int = Field(default=2, ge=1)
    argon2_memory_kib: int = Field(default=19456, ge=8)
    argon2_parallelism: int = Field(default=1, ge=1)
    # Concurrent Argon2 runs per task; each holds argon2_memory_kib of RAM.
    argon2_max_concurrency: int = Field(default=4, ge=1)

    # Login throttling (fixed windows stored in PostgreSQL, shared by every task).
    throttle_window_seconds: int = Field(default=900, ge=1)
    throttle_account_max_failures: int = Field(default=5, ge=1)
    throttle_ip_max_failures: int = Field(default=50, ge=1)

    max_body_bytes: int = Field(default=16 * 1024, ge=256)

    @field_validator("signing_keys")
    @classmethod
    def _keys_parse(cls, value: SecretStr | None) -> SecretStr | None:
        from auth_service.core.security import KeyRing  # the parser lives with the crypto

        if value is not None:
            KeyRing.from_jwks_json(value.get_secret_value(), issuer="check", audience="check")
        return value

    @field_validator("signing_keys_secret_arn")
    @classmethod
    def _secret_arn(cls, value: str | None) -> str | None:
        if value is not None and not SECRET_ARN.fullmatch(value):
            raise ValueError(
                "must be a Secrets Manager secret ARN "
                "(arn:aws:secretsmanager:<region>:<account>:secret:<name>)"
            )
        return value

    @model_validator(mode="after")
    def _one_key_source(self) -> Self:
        given = (self.signing_keys is not None, self.signing_keys_secret_arn is not None)
        if given != (True, False) and given != (False, True):
            state = "both are set" if all(given) else "neither is set"
            raise ValueError(
                f"set exactly one of {ENV_PREFIX}SIGNING_KEYS_SECRET_ARN (on AWS) and "
                f"{ENV_PREFIX}SIGNING_KEYS (local runs and tests): {state}"
            )
        return self


S = TypeVar("S", bound=DatabaseSettings)


def load_settings(cls: type[S] = Settings, **overrides: object) -> S:  # type: ignore[assignment]
    """Settings from the environment (``overrides`` win), or a ConfigError naming the culprits."""
    return kit.load_settings(cls, "auth service", **overrides)
