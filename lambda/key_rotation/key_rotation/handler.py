"""AWS Lambda entry point: ``key_rotation.handler.handler``, called by Secrets Manager once per
rotation step with ``{"SecretId", "ClientRequestToken", "Step"}``.

The steps follow AWS's rotation templates (check rotation is enabled and the token is a pending
version; a token already AWSCURRENT means done) with what an empty secret and retries need:
createSecret fills a secret that has no AWSCURRENT value yet, creates nothing when the token's
version already has a value, and finishSecret is a no-op when the token is already current.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from signing_keys import document
from signing_keys.document import KeySet

from key_rotation.config import RotationSettings, load_settings
from key_rotation.rotation import check_pending, next_key_set

log = logging.getLogger("key_rotation")
CURRENT, PENDING = "AWSCURRENT", "AWSPENDING"
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
# Short timeouts and standard retries: a rotation step that hangs is retried by Secrets Manager.
_CLIENT_CONFIG = Config(
    connect_timeout=5, read_timeout=10, retries={"max_attempts": 3, "mode": "standard"}
)
_client: Any = None


class RotationError(RuntimeError):
    """The event or the secret's state does not allow this step."""


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {"level": record.levelname, "logger": record.name, "message": record.getMessage()}
        line.update(getattr(record, "fields", {}))
        return json.dumps(line, sort_keys=True)


def _configure_logging(level: str) -> None:
    """JSON lines on stdout for this package's logger; not propagated, so Lambda's own text
    handler on the root logger does not print each record a second time."""
    handler = next((h for h in log.handlers if isinstance(h.formatter, _JsonFormatter)), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(_JsonFormatter())
        log.addHandler(handler)
        log.propagate = False
    else:
        handler.setStream(sys.stdout)  # type: ignore[attr-defined]
    log.setLevel(level)


def _secrets_client() -> Any:
    global _client
    if _client is None:  # once per execution environment, reused by warm invocations
        _client = boto3.client("secretsmanager", config=_CLIENT_CONFIG)
    return _client


def handler(event: dict[str, Any], context: object) -> None:
    settings = load_settings()
    _configure_logging(settings.log_level)
    rotate(_secrets_client(), event, settings)


def rotate(
    client: Any,
    event: dict[str, Any],
    settings: RotationSettings,
    clock: Callable[[], float] = time.time,
) -> None:
    """One rotation step (the handler without the environment: tests call this)."""
    try:
        arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    except (KeyError, TypeError):
        raise RotationError("event needs SecretId, ClientRequestToken and Step") from None
    if step not in STEPS:
        raise RotationError(f"unknown step {step!r}")
    fields = {"secret_arn": arn, "token": token, "step": step}
    metadata = client.describe_secret(SecretId=arn)
    if not metadata.get("RotationEnabled"):
        raise RotationError(f"rotation is not enabled on {arn}")
    stages = metadata.get("VersionIdsToStages", {})
    if token not in stages:
        raise RotationError(f"version {token} of {arn} has no stage for rotation")
    if CURRENT in stages[token]:
        log.info("version already current: nothing to do", extra={"fields": fields})
        return
    if PENDING not in stages[token]:
        raise RotationError(f"version {token} of {arn} is not staged {PENDING}")
    now = int(clock())
    if step == "createSecret":
        _create(client, arn, token, now, settings, fields)
    elif step == "setSecret":
        # The keys live only in this secret; the auth service reads it itself.
        log.info("setSecret: no other system holds the keys", extra={"fields": fields})
    elif step == "testSecret":
        current = _read(client, arn, stage=CURRENT)
        pending = _read(client, arn, stage=PENDING, version=token)
        if pending is None:
            raise RotationError(f"version {token} of {arn} has no value to test")
        kid = check_pending(current, pending, now, settings)
        log.info("pending key set verified", extra={"fields": {**fields, "new_kid": kid}})
    else:
        _finish(client, arn, token, stages, fields)


def _create(
    client: Any,
    arn: str,
    token: str,
    now: int,
    settings: RotationSettings,
    fields: dict[str, Any],
) -> None:
    if _read(client, arn, stage=PENDING, version=token) is not None:
        log.info("pending version already written: retry creates nothing", extra={"fields": fields})
        return
    current = _read(client, arn, stage=CURRENT)
    new_set = next_key_set(current, now, settings)
    try:
        client.put_secret_value(
            SecretId=arn,
            ClientRequestToken=token,
            SecretString=document.dumps(new_set),
            VersionStages=[PENDING],
        )
    except ClientError as exc:
        # A concurrent attempt with the same token got there first: its key set stands.
        if exc.response["Error"]["Code"] != "ResourceExistsException":
            raise
        log.info("pending version written concurrently", extra={"fields": fields})
        return
    new = new_set.keys[-1]
    log.info(
        "new signing key written",
        extra={
            "fields": {
                **fields,
                "first_fill": current is None,
                "new_kid": new.kid,
                "activates_at": document.format_time(new.activates_at),
                "kids": new_set.kids(),
            }
        },
    )


def _finish(
    client: Any, arn: str, token: str, stages: dict[str, list[str]], fields: dict[str, Any]
) -> None:
    previous = next((v for v, s in stages.items() if CURRENT in s), None)
    move: dict[str, str] = {"MoveToVersionId": token}
    if previous is not None:  # none on the first fill of an empty secret
        move["RemoveFromVersionId"] = previous
    client.update_secret_version_stage(SecretId=arn, VersionStage=CURRENT, **move)
    log.info("rotation finished", extra={"fields": {**fields, "previous_version": previous}})


def _read(client: Any, arn: str, *, stage: str, version: str | None = None) -> KeySet | None:
    """The key set of a version (by stage, or version and stage), None if it has no value."""
    request = {"SecretId": arn, "VersionStage": stage}
    if version is not None:
        request["VersionId"] = version
    try:
        value = client.get_secret_value(**request)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ResourceNotFoundException":
            return None
        raise
    if "SecretString" not in value:
        return None
    return document.parse(value["SecretString"])
