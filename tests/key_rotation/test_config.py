"""The rotation function's settings and its Lambda entry point."""

from __future__ import annotations

import json

import pytest
from key_rotation import handler as entry
from key_rotation.config import ConfigError, RotationSettings, load_settings
from signing_keys import document


def test_the_defaults_cover_the_platform_timings():
    settings = load_settings({})
    assert settings == RotationSettings(3600, 7200, "INFO")
    # Publish delay > auth refresh (300) + app JWKS TTL (300) + HTTP max-age (300).
    assert settings.publish_delay_seconds > 900
    # Retirement > the longest allowed access token (3600) + leeway (30).
    assert settings.retire_after_seconds > 3630


def test_settings_come_from_the_environment():
    settings = load_settings(
        {
            "KEY_ROTATION_PUBLISH_DELAY_SECONDS": "1800",
            "KEY_ROTATION_RETIRE_AFTER_SECONDS": "5400",
            "KEY_ROTATION_LOG_LEVEL": "debug",
        }
    )
    assert settings == RotationSettings(1800, 5400, "DEBUG")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("KEY_ROTATION_PUBLISH_DELAY_SECONDS", "60"),
        ("KEY_ROTATION_PUBLISH_DELAY_SECONDS", "1h"),
        ("KEY_ROTATION_RETIRE_AFTER_SECONDS", "9999999"),
        ("KEY_ROTATION_LOG_LEVEL", "LOUD"),
    ],
)
def test_a_bad_setting_fails_with_one_line_naming_it(name, value):
    with pytest.raises(ConfigError) as info:
        load_settings({name: value})
    message = str(info.value)
    assert message.startswith(f"{name}={value!r}: ") and "\n" not in message


def test_the_lambda_handler_runs_a_whole_rotation(secrets, secret_arn, rotation, monkeypatch):
    """The entry point Lambda calls: settings from the environment, its own boto3 client."""
    monkeypatch.setattr(entry, "_client", None)
    monkeypatch.setenv("KEY_ROTATION_PUBLISH_DELAY_SECONDS", "1800")
    token = rotation.start()
    for step in entry.STEPS:
        entry.handler({"SecretId": secret_arn, "ClientRequestToken": token, "Step": step}, None)
    value = secrets.get_secret_value(SecretId=secret_arn, VersionStage="AWSCURRENT")
    assert value["VersionId"] == token
    assert len(document.parse(value["SecretString"]).keys) == 1


def test_the_lambda_handler_logs_json_without_key_material(
    secrets, secret_arn, rotation, monkeypatch, capsys
):
    monkeypatch.setattr(entry, "_client", None)
    token = rotation.start()
    entry.handler(
        {"SecretId": secret_arn, "ClientRequestToken": token, "Step": "createSecret"}, None
    )
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    written = next(line for line in lines if line["message"] == "new signing key written")
    assert written["first_fill"] is True and written["step"] == "createSecret"
    pending = secrets.get_secret_value(SecretId=secret_arn, VersionId=token)["SecretString"]
    private = document.parse(pending).keys[0].jwk["d"]
    assert all(private not in json.dumps(line) for line in lines)


def test_the_lambda_handler_refuses_bad_settings_before_any_call(monkeypatch):
    monkeypatch.setenv("KEY_ROTATION_RETIRE_AFTER_SECONDS", "10")
    monkeypatch.setattr(entry, "_client", object())  # any call on it would fail differently
    with pytest.raises(ConfigError, match="KEY_ROTATION_RETIRE_AFTER_SECONDS='10'"):
        entry.handler({"SecretId": "x", "ClientRequestToken": "t", "Step": "createSecret"}, None)
