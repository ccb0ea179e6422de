"""Migrations: applied by a command, idempotent, safe to run concurrently, tamper-evident."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from auth_service import migrate


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    return {name for (name,) in rows}


def test_apply_is_idempotent(postgres_server):
    url = postgres_server.create_database("mig_idempotent")
    assert migrate.apply(url) == [m.version for m in migrate.available()]
    assert migrate.apply(url) == []
    assert _tables(url) == {
        "schema_migrations",
        "users",
        "refresh_tokens",
        "api_keys",
        "login_failures",
    }


def test_concurrent_runners_apply_each_migration_once(postgres_server):
    url = postgres_server.create_database("mig_concurrent")
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(migrate.apply, [url] * 4))
    applied = sorted(v for result in results for v in result)
    assert applied == [m.version for m in migrate.available()]


def test_an_edited_migration_is_detected(postgres_server, monkeypatch):
    url = postgres_server.create_database("mig_tampered")
    migrate.apply(url)
    first = migrate.available()[0]
    edited = migrate.Migration(version=first.version, sql=first.sql + "\n-- edited\n")
    monkeypatch.setattr(migrate, "available", lambda: [edited])
    with pytest.raises(migrate.MigrationError, match="changed after it was applied"):
        migrate.apply(url)


def test_every_lookup_column_has_an_index(auth_database_url):
    with psycopg.connect(auth_database_url) as conn:
        indexes = {
            name: definition
            for name, definition in conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
            ).fetchall()
        }
    expected = {
        "users_email_key": "(email)",
        "refresh_tokens_pkey": "(token_hash)",
        "refresh_tokens_family_id_idx": "(family_id)",
        "refresh_tokens_user_id_idx": "(user_id)",
        "refresh_tokens_expires_at_idx": "(expires_at)",
        "api_keys_key_hash_key": "(key_hash)",
        "api_keys_user_id_created_at_idx": "(user_id, created_at DESC)",
        "login_failures_pkey": "(scope, key)",
        "login_failures_window_started_at_idx": "(window_started_at)",
    }
    for name, columns in expected.items():
        assert name in indexes, name
        assert indexes[name].endswith(columns), indexes[name]


def _run_command(env_overrides: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTH_")}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "-m", "auth_service.migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_migrate_command_applies_from_database_parts(postgres_server):
    postgres_server.create_database("mig_command")
    result = _run_command(
        {
            "AUTH_DB_HOST": postgres_server.host,
            "AUTH_DB_PORT": str(postgres_server.port),
            "AUTH_DB_NAME": "mig_command",
            "AUTH_DB_USER": "postgres",
            "AUTH_DB_PASSWORD": "unused-with-trust-auth",
            "AUTH_DB_REQUIRE_TLS": "false",
            "AUTH_DB_SSLMODE": "disable",
        }
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert '"message": "migrations up to date"' in result.stdout
    assert "unused-with-trust-auth" not in result.stdout + result.stderr
    assert "users" in _tables(postgres_server.dsn("mig_command"))


def test_migrate_command_names_the_missing_variable():
    result = _run_command({"AUTH_DB_HOST": "db.internal", "AUTH_DB_NAME": "auth"})
    assert result.returncode == 2
    assert "AUTH_DB_USER" in result.stdout and "AUTH_DB_PASSWORD" in result.stdout


def test_service_migrates_at_start_up_when_configured(client_factory, postgres_server):
    url = postgres_server.create_database("mig_on_start")
    client = client_factory(database_url=url, migrate_on_start=True)
    assert client.get("/ready").json() == {"status": "ready"}
