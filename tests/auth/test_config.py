"""Configuration from the environment, with errors that name the variable."""

from __future__ import annotations

import json
import os

import pytest
from auth_service.core.config import DatabaseSettings, load_settings
from auth_service.core.security import generate_signing_key
from service_kit.settings import ConfigError

KEYS = json.dumps({"keys": [generate_signing_key("k1")]})
BASE = {
    "AUTH_SIGNING_KEYS": KEYS,
    "AUTH_ISSUER": "https://auth.example.com",
    "AUTH_DATABASE_URL": "postgresql://auth@db.internal/auth",
}


@pytest.fixture
def env(monkeypatch):
    for key in list(os.environ):
        if key.startswith("AUTH_"):
            monkeypatch.delenv(key)

    def set_env(**values: str) -> None:
        for key, value in values.items():
            monkeypatch.setenv(key, value)

    return set_env


def test_a_complete_environment_loads_with_secure_defaults(env):
    env(**BASE)
    settings = load_settings()
    assert settings.audience == "platform-api"
    assert settings.access_token_ttl_seconds == 900
    assert (settings.argon2_memory_kib, settings.argon2_time_cost) == (19456, 2)
    assert "sslmode=require" in settings.conninfo()


@pytest.mark.parametrize("missing", ["AUTH_ISSUER"])
def test_missing_variable_is_named(env, missing):
    env(**{k: v for k, v in BASE.items() if k != missing})
    with pytest.raises(ConfigError, match=f"{missing}: missing environment variable"):
        load_settings()


def test_database_parts_are_named_when_incomplete(env):
    env(**{k: v for k, v in BASE.items() if k != "AUTH_DATABASE_URL"}, AUTH_DB_HOST="db")
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert "AUTH_DB_NAME" in message and "AUTH_DB_PASSWORD" in message
    assert "AUTH_DB_HOST," in message  # listed among the alternatives, not as missing


def test_database_parts_build_a_tls_connection(env):
    env(
        **{k: v for k, v in BASE.items() if k != "AUTH_DATABASE_URL"},
        AUTH_DB_HOST="db.internal",
        AUTH_DB_NAME="auth",
        AUTH_DB_USER="auth",
        AUTH_DB_PASSWORD="s3cret",
        AUTH_DB_SSLMODE="verify-full",
        AUTH_DB_SSLROOTCERT="/etc/ssl/certs/rds.pem",
    )
    conninfo = load_settings(DatabaseSettings).conninfo()
    assert "host=db.internal" in conninfo and "sslmode=verify-full" in conninfo
    assert "sslrootcert=/etc/ssl/certs/rds.pem" in conninfo


def test_plaintext_database_connection_is_refused_by_default(env):
    env(**BASE, AUTH_DB_SSLMODE="disable")
    with pytest.raises(ConfigError, match="AUTH_DB_SSLMODE=disable does not encrypt"):
        load_settings()


def test_sslmode_in_the_url_cannot_weaken_tls(env):
    env(**{**BASE, "AUTH_DATABASE_URL": "postgresql://auth@db/auth?sslmode=disable"})
    assert "sslmode=require" in load_settings().conninfo()


@pytest.mark.parametrize(
    ("keys", "reason"),
    [
        ("not json", "not JSON"),
        ('{"keys": []}', "expected a JWK Set"),
        (json.dumps({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}), "EC P-256"),
        (
            json.dumps({"keys": [{k: v for k, v in generate_signing_key().items() if k != "d"}]}),
            "private part",
        ),
        (
            json.dumps({"keys": [generate_signing_key("same"), generate_signing_key("same")]}),
            "duplicate kid",
        ),
    ],
)
def test_bad_signing_keys_are_refused_with_the_reason(env, keys, reason):
    env(**{**BASE, "AUTH_SIGNING_KEYS": keys})
    with pytest.raises(ConfigError, match="AUTH_SIGNING_KEYS") as info:
        load_settings()
    assert reason in str(info.value)


def test_errors_never_echo_secret_values(env):
    env(**{**BASE, "AUTH_SIGNING_KEYS": '{"keys": [{"kty": "EC", "d": "TOPSECRET"}]}'})
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "TOPSECRET" not in str(info.value)


def test_service_start_fails_cleanly_without_configuration(env):
    from auth_service.main import create_app

    with pytest.raises(SystemExit) as info:
        create_app()
    assert info.value.code == 2


def test_the_run_command_stops_with_one_line_naming_the_variable(env):
    import subprocess
    import sys

    env(**{k: v for k, v in BASE.items() if k != "AUTH_ISSUER"}, AUTH_PORT="0")
    result = subprocess.run(
        [sys.executable, "-m", "auth_service"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    (line,) = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert line["level"] == "ERROR"
    assert line["message"].startswith("invalid auth service configuration: ")
    assert "AUTH_ISSUER: missing environment variable" in line["message"]
    assert "AUTH_PORT: " in line["message"]


SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:checkins-dev-auth-keys-AbCdEf"


def test_the_key_set_may_come_from_a_secret_instead(env):
    env(**{k: v for k, v in BASE.items() if k != "AUTH_SIGNING_KEYS"})
    env(AUTH_SIGNING_KEYS_SECRET_ARN=SECRET_ARN, AUTH_SIGNING_KEYS_REFRESH_SECONDS="60")
    settings = load_settings()
    assert settings.signing_keys is None
    assert (settings.signing_keys_secret_arn, settings.signing_keys_refresh_seconds) == (
        SECRET_ARN,
        60,
    )


@pytest.mark.parametrize(
    ("extra", "drop", "state"),
    [
        ({"AUTH_SIGNING_KEYS_SECRET_ARN": SECRET_ARN}, None, "both are set"),
        ({}, "AUTH_SIGNING_KEYS", "neither is set"),
    ],
)
def test_the_two_key_sources_are_exclusive(env, extra, drop, state):
    env(**{k: v for k, v in BASE.items() if k != drop}, **extra)
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert "AUTH_SIGNING_KEYS_SECRET_ARN" in message and "AUTH_SIGNING_KEYS (" in message
    assert message.endswith(state) and "\n" not in message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AUTH_SIGNING_KEYS_SECRET_ARN", "checkins-dev-auth-keys"),
        ("AUTH_SIGNING_KEYS_SECRET_ARN", "arn:aws:ssm:eu-west-1:123456789012:parameter/keys"),
        ("AUTH_SIGNING_KEYS_REFRESH_SECONDS", "5"),
        ("AUTH_SIGNING_KEYS_REFRESH_SECONDS", "86400"),
    ],
)
def test_bad_secret_settings_are_named(env, name, value):
    env(**{k: v for k, v in BASE.items() if k != "AUTH_SIGNING_KEYS"})
    env(**{"AUTH_SIGNING_KEYS_SECRET_ARN": SECRET_ARN, name: value})
    with pytest.raises(ConfigError, match=f"{name}: "):
        load_settings()


# IAM database authentication (AUTH_DB_AUTH=iam): what the task definition sets on AWS.
def _iam_env(ca_bundle) -> dict[str, str]:
    return {
        **{k: v for k, v in BASE.items() if k != "AUTH_DATABASE_URL"},
        "AUTH_DB_AUTH": "iam",
        "AUTH_DB_HOST": "checkins-prod-auth.abc123.eu-west-1.rds.amazonaws.com",
        "AUTH_DB_PORT": "5432",
        "AUTH_DB_NAME": "auth",
        "AUTH_DB_USER": "auth_app",
        "AUTH_DB_REGION": "eu-west-1",
        "AUTH_DB_SSLMODE": "verify-full",
        "AUTH_DB_SSLROOTCERT": str(ca_bundle),
    }


@pytest.fixture
def ca_bundle(tmp_path):
    path = tmp_path / "rds-global-bundle.pem"
    path.write_text("-----BEGIN CERTIFICATE-----\n")
    return path


def test_password_authentication_is_the_default(env):
    env(
        **{k: v for k, v in BASE.items() if k != "AUTH_DATABASE_URL"},
        AUTH_DB_HOST="db.internal",
        AUTH_DB_NAME="auth",
        AUTH_DB_USER="auth",
        AUTH_DB_PASSWORD="s3cret",
    )
    settings = load_settings(DatabaseSettings)
    assert settings.db_auth == "password"
    assert "password=s3cret" in settings.conninfo()  # the migration command's connection
    assert "s3cret" not in settings.conninfo(password=False)  # the pool asks a provider


def test_iam_authentication_loads_without_any_password(env, ca_bundle):
    env(**_iam_env(ca_bundle))
    settings = load_settings()
    assert (settings.db_auth, settings.db_region, settings.db_user) == (
        "iam",
        "eu-west-1",
        "auth_app",
    )
    conninfo = settings.conninfo()
    assert "password" not in conninfo
    assert "sslmode=verify-full" in conninfo and f"sslrootcert={ca_bundle}" in conninfo
    assert "host=checkins-prod-auth.abc123.eu-west-1.rds.amazonaws.com" in conninfo


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"AUTH_DB_PASSWORD": "s3cret"}, "AUTH_DB_PASSWORD: not allowed with AUTH_DB_AUTH=iam"),
        (
            {"AUTH_DATABASE_URL": "postgresql://auth_app:pw@db/auth"},
            "AUTH_DATABASE_URL: not allowed with AUTH_DB_AUTH=iam",
        ),
        ({"AUTH_DB_HOST": None}, "missing with AUTH_DB_AUTH=iam: AUTH_DB_HOST"),
        ({"AUTH_DB_NAME": None}, "missing with AUTH_DB_AUTH=iam: AUTH_DB_NAME"),
        ({"AUTH_DB_USER": None}, "missing with AUTH_DB_AUTH=iam: AUTH_DB_USER"),
        ({"AUTH_DB_REGION": None}, "missing with AUTH_DB_AUTH=iam: AUTH_DB_REGION"),
        ({"AUTH_DB_REGION": "Ireland"}, "AUTH_DB_REGION: must be an AWS region"),
        ({"AUTH_DB_SSLMODE": "require"}, "AUTH_DB_SSLMODE=require: with AUTH_DB_AUTH=iam"),
        ({"AUTH_DB_SSLMODE": None}, "AUTH_DB_SSLMODE=require: with AUTH_DB_AUTH=iam"),
        ({"AUTH_DB_SSLMODE": "verify-ca"}, "AUTH_DB_SSLMODE=verify-ca: with AUTH_DB_AUTH=iam"),
        ({"AUTH_DB_SSLROOTCERT": None}, "AUTH_DB_SSLROOTCERT: required with AUTH_DB_AUTH=iam"),
        (
            {"AUTH_DB_SSLROOTCERT": "/nonexistent/rds-global-bundle.pem"},
            "AUTH_DB_SSLROOTCERT: no such file: /nonexistent/rds-global-bundle.pem",
        ),
        ({"AUTH_MIGRATE_ON_START": "true"}, "AUTH_MIGRATE_ON_START=true: not allowed with"),
        ({"AUTH_DB_AUTH": "kerberos"}, "AUTH_DB_AUTH: "),
    ],
)
def test_each_invalid_iam_combination_is_named_in_one_line(env, ca_bundle, change, expected):
    values = {**_iam_env(ca_bundle), **change}
    env(**{k: v for k, v in values.items() if v is not None})
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert message.startswith("invalid auth service configuration: ")
    problems = message.removeprefix("invalid auth service configuration: ")
    # Exactly the one problem introduced: the message is that problem, on one line.
    assert problems.startswith(expected), problems
    assert ";" not in problems and "\n" not in message
    assert "s3cret" not in message and ":pw@" not in message


def test_several_iam_problems_are_all_named(env, ca_bundle):
    values = {**_iam_env(ca_bundle), "AUTH_DB_PASSWORD": "s3cret", "AUTH_DB_SSLMODE": "require"}
    del values["AUTH_DB_REGION"]
    env(**values)
    with pytest.raises(ConfigError) as info:
        load_settings(DatabaseSettings)
    message = str(info.value)
    for name in ("AUTH_DB_PASSWORD", "AUTH_DB_REGION", "AUTH_DB_SSLMODE"):
        assert name in message
    assert "s3cret" not in message
