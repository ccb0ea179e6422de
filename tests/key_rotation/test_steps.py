"""Each rotation step on its own against moto's Secrets Manager: the first fill of the empty
secret, retries, the checks AWS's templates make, and what testSecret refuses.

Secrets Manager's own part (RotateSecret staging the pending version, invoking the four steps)
is played by tests/key_rotation/rotation_driver.py: moto cannot run a Lambda without Docker.
"""

from __future__ import annotations

import json

import pytest
from key_rotation.handler import RotationError
from key_rotation.rotation import RotationCheckFailed
from signing_keys import document

from tests.key_rotation.conftest import START


def current_set(secrets, arn) -> document.KeySet:
    value = secrets.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")
    return document.parse(value["SecretString"])


def stages(secrets, arn) -> dict[str, list[str]]:
    return secrets.describe_secret(SecretId=arn).get("VersionIdsToStages", {})


def test_the_empty_secret_is_encrypted_with_the_customer_key(secrets, secret_arn, kms_key_arn):
    assert secrets.describe_secret(SecretId=secret_arn)["KmsKeyId"] == kms_key_arn
    assert "VersionIdsToStages" not in secrets.describe_secret(SecretId=secret_arn)


def test_the_first_rotation_fills_the_empty_secret_with_a_key_that_signs_at_once(
    secrets, secret_arn, rotation
):
    token = rotation.rotate()
    key_set = current_set(secrets, secret_arn)
    [key] = key_set.keys
    assert (key.created_at, key.activates_at, key.retires_at) == (START, START, None)
    assert key_set.signing_key(START) == key
    assert stages(secrets, secret_arn)[token] == ["AWSPENDING", "AWSCURRENT"]


def test_a_rotation_adds_a_key_that_signs_only_after_the_publish_delay(
    secrets, secret_arn, rotation, settings, clock
):
    rotation.rotate()
    clock.advance(30 * 86400)
    first = current_set(secrets, secret_arn).keys[0]
    rotation.rotate()
    old, new = current_set(secrets, secret_arn).keys
    assert old.kid == first.kid
    assert new.activates_at == clock.now + settings.publish_delay_seconds
    assert old.retires_at == new.activates_at + settings.retire_after_seconds
    key_set = current_set(secrets, secret_arn)
    assert key_set.signing_key(clock.now).kid == old.kid  # nothing changes at once
    assert [k.kid for k in key_set.published(clock.now)] == [old.kid, new.kid]
    assert key_set.signing_key(new.activates_at).kid == new.kid


def test_the_previous_version_stays_as_awsprevious(secrets, secret_arn, rotation, clock):
    first = rotation.rotate()
    clock.advance(86400)
    second = rotation.rotate()
    assert "AWSPREVIOUS" in stages(secrets, secret_arn)[first]
    assert "AWSCURRENT" in stages(secrets, secret_arn)[second]


def test_a_retried_create_step_creates_no_second_key(secrets, secret_arn, rotation):
    token = rotation.start()
    rotation.step(token, "createSecret")
    written = secrets.get_secret_value(SecretId=secret_arn, VersionId=token)["SecretString"]
    rotation.step(token, "createSecret")  # Secrets Manager retries a step that timed out
    again = secrets.get_secret_value(SecretId=secret_arn, VersionId=token)["SecretString"]
    assert again == written
    assert len(document.parse(again).keys) == 1


def test_every_step_of_a_finished_rotation_is_a_no_op(secrets, secret_arn, rotation):
    token = rotation.rotate()
    before = (stages(secrets, secret_arn), current_set(secrets, secret_arn))
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        rotation.step(token, step)
    assert (stages(secrets, secret_arn), current_set(secrets, secret_arn)) == before


def test_retired_keys_are_dropped_from_the_set(secrets, secret_arn, rotation, settings, clock):
    rotation.rotate()
    first = current_set(secrets, secret_arn).keys[0]
    clock.advance(86400)
    rotation.rotate()
    clock.advance(settings.publish_delay_seconds + settings.retire_after_seconds + 1)
    rotation.rotate()
    kids = current_set(secrets, secret_arn).kids()
    assert first.kid not in kids and len(kids) == 2


def test_a_step_refuses_when_rotation_is_not_enabled(secrets, secret_arn, rotation):
    token = rotation.start()
    rotation._secret.rotation_enabled = False
    with pytest.raises(RotationError, match="rotation is not enabled"):
        rotation.step(token, "createSecret")


def test_a_step_refuses_a_token_that_is_not_a_version(rotation):
    rotation.start()
    with pytest.raises(RotationError, match="has no stage for rotation"):
        rotation.step("5b6b1b8e-0000-4000-8000-000000000000", "createSecret")


def test_a_step_refuses_a_version_that_is_not_pending(secrets, secret_arn, rotation, clock):
    first = rotation.rotate()
    clock.advance(86400)
    rotation.rotate()  # `first` is now AWSPREVIOUS only
    with pytest.raises(RotationError, match="is not staged AWSPENDING"):
        rotation.step(first, "createSecret")


def test_an_unknown_step_is_refused(rotation):
    token = rotation.start()
    with pytest.raises(RotationError, match="unknown step"):
        rotation.step(token, "dropSecret")


def test_a_corrupt_current_value_is_never_overwritten(secrets, secret_arn, rotation, clock):
    rotation.rotate()
    secrets.put_secret_value(SecretId=secret_arn, SecretString='{"version": 1, "keys": []}')
    token = rotation.start()
    with pytest.raises(document.KeySetError, match="keys: must be a non-empty list"):
        rotation.step(token, "createSecret")
    assert "SecretString" not in rotation._secret.versions[token]


def _pending(secrets, arn, rotation, mutate) -> str:
    """A pending version whose value `mutate` spoiled, as a faulty writer might leave it."""
    token = rotation.start()
    rotation.step(token, "createSecret")
    data = json.loads(secrets.get_secret_value(SecretId=arn, VersionId=token)["SecretString"])
    mutate(data["keys"])
    rotation._secret.versions[token]["secret_string"] = json.dumps(data)
    return token


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda keys: keys.pop(0), "drops published keys"),
        (lambda keys: keys[-1].update(activates_at=keys[-1]["created_at"]), "signing key at once"),
        (lambda keys: keys.append(dict(keys[-1], kid="x")), "kid differs"),
        (lambda keys: keys[-1]["jwk"].update(x=keys[0]["jwk"]["x"]), "ValueError"),
    ],
    ids=["drops-a-key", "activates-at-once", "kid-mismatch", "broken-jwk"],
)
def test_the_test_step_refuses_a_pending_set_that_would_break_verification(
    secrets, secret_arn, rotation, clock, mutate, reason
):
    rotation.rotate()
    clock.advance(86400)
    token = _pending(secrets, secret_arn, rotation, mutate)
    with pytest.raises((RotationCheckFailed, document.KeySetError), match=reason):
        rotation.step(token, "testSecret")


def test_the_test_step_refuses_a_key_that_waits_less_than_the_publish_delay(
    secrets, secret_arn, rotation, clock, settings
):
    rotation.rotate()
    clock.advance(86400)

    def early(keys):
        keys[-1]["activates_at"] = document.format_time(int(clock.now) + 60)

    token = _pending(secrets, secret_arn, rotation, early)
    with pytest.raises(RotationCheckFailed, match="before the publish delay"):
        rotation.step(token, "testSecret")
