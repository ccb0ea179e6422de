"""Versioned SQL migrations: ``python -m auth_service.migrate``.

Each ``migrations/NNNN_name.sql`` file runs once, in its own transaction, recorded with its
checksum in ``schema_migrations``. A session advisory lock serialises concurrent runners (several
tasks starting at once), so running it again, or from several places, is safe.
"""

from __future__ import annotations

import hashlib
import logging
import sys
from dataclasses import dataclass
from importlib import resources

import psycopg

log = logging.getLogger("auth_service.migrate")

# Any constant works; it only has to be the same for every runner of this service.
ADVISORY_LOCK_ID = 0x617574685F6D6967  # "auth_mig"


@dataclass(frozen=True)
class Migration:
    version: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


class MigrationError(RuntimeError):
    pass


def available() -> list[Migration]:
    folder = resources.files("auth_service") / "migrations"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [Migration(version=f.name.removesuffix(".sql"), sql=f.read_text()) for f in files]


def latest_version() -> str:
    return available()[-1].version


def apply(conninfo: str) -> list[str]:
    """Apply pending migrations; returns the versions applied by this call."""
    applied_now: list[str] = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_ID,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version text PRIMARY KEY, checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = dict(conn.execute("SELECT version, checksum FROM schema_migrations").fetchall())
            for migration in available():
                if migration.version in done:
                    if done[migration.version] != migration.checksum:
                        raise MigrationError(
                            f"migration {migration.version} changed after it was applied"
                        )
                    continue
                with conn.transaction():
                    conn.execute(migration.sql.encode())
                    conn.execute(
                        "INSERT INTO schema_migrations (version, checksum) VALUES (%s, %s)",
                        (migration.version, migration.checksum),
                    )
                log.info("migration applied", extra={"version": migration.version})
                applied_now.append(migration.version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK_ID,))
    return applied_now


def main() -> int:
    from service_kit.logging import configure_logging
    from service_kit.settings import settings_or_exit

    from auth_service.core.config import DatabaseSettings, load_settings

    configure_logging()
    # Only the database settings matter here: migrating needs no signing keys.
    conninfo = settings_or_exit(lambda: load_settings(DatabaseSettings)).conninfo()
    try:
        versions = apply(conninfo)
    except (psycopg.Error, MigrationError) as exc:
        log.error("migration failed", extra={"error": str(exc).splitlines()[0]})
        return 1
    log.info("migrations up to date", extra={"applied": versions, "latest": latest_version()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
