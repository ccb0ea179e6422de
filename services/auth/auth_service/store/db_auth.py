"""Where the database password comes from, asked once for every new pool connection.

On RDS the service stores no password: ``IamTokenProvider`` signs an IAM authentication token
(boto3 ``generate_db_auth_token``: a SigV4 presigned request, computed locally from the task
role's credentials, valid 15 minutes). PostgreSQL checks it only when a connection is opened,
so a pooled connection may outlive its token; a fresh one is signed for every new connection.
Locally and in tests ``StaticPassword`` gives the same code path a fixed password.

A password or token is never logged, never put in an exception message or a ``repr``.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol, runtime_checkable

from pydantic import SecretStr

from auth_service.core.config import DatabaseSettings


@runtime_checkable
class PasswordProvider(Protocol):
    """Gives the password for the next new connection. May block (a credentials refresh): the
    pool calls it in a worker thread."""

    def password(self) -> str: ...


class StaticPassword:
    """The same password every time (AUTH_DB_PASSWORD; local runs and tests)."""

    def __init__(self, password: str | SecretStr) -> None:
        self._password = password if isinstance(password, SecretStr) else SecretStr(password)

    def password(self) -> str:
        return self._password.get_secret_value()

    def __repr__(self) -> str:
        return "StaticPassword('**********')"


class _DropSignatures(logging.Filter):
    """botocore.auth logs each SigV4 signature at DEBUG: for an IAM token that line, with the
    canonical request logged next to it, is the token. The line is dropped, the rest kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Signature:")


def _silence_signatures() -> None:
    logger = logging.getLogger("botocore.auth")
    if not any(isinstance(f, _DropSignatures) for f in logger.filters):
        logger.addFilter(_DropSignatures())


class IamTokenProvider:
    """A new RDS IAM authentication token for every connection, signed with the task role's
    credentials (the role needs ``rds-db:connect`` on ``dbuser:<DbiResourceId>/<user>``)."""

    def __init__(self, *, host: str, port: int, user: str, region: str, client: Any = None) -> None:
        self.host, self.port, self.user, self.region = host, port, user, region
        self._client = client
        _silence_signatures()

    def _rds(self) -> Any:
        if self._client is None:
            import boto3  # imported here: local runs in password mode never need it

            # No API call is made: the token is signed locally; only the credentials may be
            # fetched (ECS container credentials endpoint), and botocore caches them.
            self._client = boto3.client("rds", region_name=self.region)
        return self._client

    def password(self) -> str:
        return self._rds().generate_db_auth_token(
            DBHostname=self.host, Port=self.port, DBUsername=self.user, Region=self.region
        )

    def __repr__(self) -> str:
        return (
            f"IamTokenProvider(host={self.host!r}, port={self.port}, user={self.user!r}, "
            f"region={self.region!r})"
        )


def password_provider(
    settings: DatabaseSettings, *, rds_client: Any = None
) -> PasswordProvider | None:
    """The provider the settings describe: IAM tokens, AUTH_DB_PASSWORD, or none when the
    credentials are in AUTH_DATABASE_URL (local runs). ``rds_client`` replaces the boto3 RDS
    client (tests)."""
    if settings.db_auth == "iam":
        assert settings.db_host and settings.db_user and settings.db_region  # validated
        return IamTokenProvider(
            host=settings.db_host,
            port=settings.db_port,
            user=settings.db_user,
            region=settings.db_region,
            client=rds_client,
        )
    if settings.database_url is None and settings.db_password is not None:
        return StaticPassword(settings.db_password)
    return None
