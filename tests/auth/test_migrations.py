"""Migrations: applied by a command, idempotent, safe to run concurrently, tamper-evident."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from auth_service import migrate
from psycopg.conninfo import make_conninfo


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


# The service's role (0002_app_role.sql): data access only, no DDL, no password.
APP_ROLE = "auth_app"


def _as_app_role(url: str) -> str:
    return make_conninfo(url, user=APP_ROLE)


@pytest.fixture
def migrated_url(postgres_server) -> str:
    url = postgres_server.create_database("mig_app_role")
    migrate.apply(url)
    return url


def test_the_service_role_exists_without_password_or_admin_rights(migrated_url):
    with psycopg.connect(migrated_url) as conn:
        row = conn.execute(
            "SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolbypassrls,"
            " rolpassword IS NULL FROM pg_authid WHERE rolname = %s",
            (APP_ROLE,),
        ).fetchone()
    assert row == (True, False, False, False, False, True)


def test_the_service_role_reads_and_writes_the_tables(migrated_url):
    with psycopg.connect(_as_app_role(migrated_url), autocommit=True) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (APP_ROLE,)
        (user_id,) = conn.execute(
            "INSERT INTO users (email, password_hash) VALUES ('a@example.com', 'h') RETURNING id"
        ).fetchone()
        conn.execute("UPDATE users SET password_hash = 'h2' WHERE id = %s", (user_id,))
        assert conn.execute("SELECT password_hash FROM users").fetchall() == [("h2",)]
        conn.execute(
            "INSERT INTO login_failures VALUES ('ip', '192.0.2.1', 1, now())"
            " ON CONFLICT (scope, key) DO UPDATE SET failures = login_failures.failures + 1"
        )
        conn.execute("DELETE FROM users WHERE id = %s", (user_id,))
        # /ready reads the migration record.
        assert conn.execute("SELECT max(version) FROM schema_migrations").fetchone() == (
            migrate.latest_version(),
        )


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TABLE intruder (id int)",
        "CREATE FUNCTION intruder() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "ALTER TABLE users ADD COLUMN intruder text",
        "DROP TABLE login_failures",
        "TRUNCATE refresh_tokens",
        "CREATE INDEX intruder ON users (created_at)",
        "INSERT INTO schema_migrations (version, checksum) VALUES ('9999_x', 'x')",
        "DELETE FROM schema_migrations",
    ],
)
def test_the_service_role_cannot_change_the_schema_or_its_record(migrated_url, statement):
    with (
        psycopg.connect(_as_app_role(migrated_url), autocommit=True) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute(statement)


def test_tables_of_later_migrations_get_the_same_grants(migrated_url):
    with psycopg.connect(migrated_url, autocommit=True) as conn:  # as the migrating role
        conn.execute("CREATE TABLE later_table (id bigint GENERATED ALWAYS AS IDENTITY, v text)")
    with psycopg.connect(_as_app_role(migrated_url), autocommit=True) as conn:
        conn.execute("INSERT INTO later_table (v) VALUES ('x')")  # also uses its sequence
        assert conn.execute("SELECT v FROM later_table").fetchall() == [("x",)]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DROP TABLE later_table")


def test_public_may_not_create_in_the_schema_even_where_it_once_could(postgres_server):
    # PostgreSQL before 15 let every role create in `public`; the migration takes that away.
    url = postgres_server.create_database("mig_old_public")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("GRANT CREATE ON SCHEMA public TO PUBLIC")
    migrate.apply(url)
    with (
        psycopg.connect(_as_app_role(url), autocommit=True) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute("CREATE TABLE intruder (id int)")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE still_allowed (id int)")  # the migrating role still can


def _is_member(url: str, role: str) -> bool:
    with psycopg.connect(url) as conn:
        (member,) = conn.execute(
            "SELECT EXISTS (SELECT FROM pg_auth_members m"
            " JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member"
            " WHERE r.rolname = %s AND u.rolname = %s)",
            (role, APP_ROLE),
        ).fetchone()
    return member


def test_rds_iam_is_granted_only_where_it_exists(postgres_server):
    # rds_iam exists on RDS only; here it is created for the test and dropped again.
    with psycopg.connect(postgres_server.dsn(), autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS rds_iam")
    plain = postgres_server.create_database("mig_no_rds_iam")
    migrate.apply(plain)  # no rds_iam: nothing to grant, nothing fails
    try:
        with psycopg.connect(postgres_server.dsn(), autocommit=True) as conn:
            conn.execute("CREATE ROLE rds_iam NOLOGIN")
        assert not _is_member(plain, "rds_iam")
        on_rds = postgres_server.create_database("mig_rds_iam")
        migrate.apply(on_rds)
        assert _is_member(on_rds, "rds_iam")
    finally:
        with psycopg.connect(postgres_server.dsn(), autocommit=True) as conn:
            conn.execute("DROP ROLE IF EXISTS rds_iam")


def test_the_role_migration_is_harmless_to_run_again(migrated_url, postgres_server):
    # Roles belong to the cluster: a second database (or a re-run of the SQL itself) finds
    # auth_app already there.
    (role_migration,) = [m for m in migrate.available() if m.version == "0002_app_role"]
    with psycopg.connect(migrated_url, autocommit=True) as conn:
        conn.execute(role_migration.sql.encode())
        conn.execute(role_migration.sql.encode())
    assert migrate.apply(migrated_url) == []
    second = postgres_server.create_database("mig_app_role_again")
    assert "0002_app_role" in migrate.apply(second)
    with psycopg.connect(_as_app_role(second), autocommit=True) as conn:
        conn.execute("INSERT INTO users (email, password_hash) VALUES ('b@example.com', 'h')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE intruder (id int)")
