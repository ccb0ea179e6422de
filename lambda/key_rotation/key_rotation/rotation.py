"""The pure part of a rotation: the next key set, and the checks of the testSecret step."""

from __future__ import annotations

from joserfc import jwt
from joserfc.jwk import ECKey
from signing_keys import document
from signing_keys.document import KeySet

from key_rotation.config import RotationSettings


class RotationCheckFailed(RuntimeError):
    """The pending key set would break verification; the rotation must not finish."""


def next_key_set(current: KeySet | None, now: int, settings: RotationSettings) -> KeySet:
    """``current`` without its retired keys, every unreplaced key given its retirement, plus a
    new key. The new key activates after the publish delay; on the first fill (nothing
    published yet, so nobody can hold a token) at once."""
    kept = [k for k in current.keys if k.published_at(now)] if current else []
    activates_at = now + settings.publish_delay_seconds if kept else now
    retires_at = activates_at + settings.retire_after_seconds
    kept = [k if k.retires_at is not None else document.retire(k, retires_at) for k in kept]
    return document.build([*kept, document.new_key(now, activates_at)])


def check_pending(
    current: KeySet | None, pending: KeySet, now: int, settings: RotationSettings
) -> str:
    """Raise RotationCheckFailed unless ``pending`` is a safe successor of ``current``; returns
    the new key's kid."""
    old = set(current.kids()) if current else set()
    new = [k for k in pending.keys if k.kid not in old]
    if len(new) != 1:
        raise RotationCheckFailed(f"pending set adds {len(new)} keys, expected exactly one")
    key = new[0]
    # The new key signs a token that its published public part verifies.
    token = jwt.encode(
        {"alg": document.ALGORITHM, "kid": key.kid},
        {"probe": True},
        key.private_key(),
        algorithms=[document.ALGORITHM],
    )
    public = ECKey.import_key(key.public_jwk())
    if jwt.decode(token, public, algorithms=[document.ALGORITHM]).claims != {"probe": True}:
        raise RotationCheckFailed(f"key {key.kid}: signature does not verify")
    if current is None or not current.published(now):
        return key.kid  # first fill: nothing published that could be lost
    missing = [k.kid for k in current.published(now) if k.kid not in pending.kids()]
    if missing:
        raise RotationCheckFailed(f"pending set drops published keys {missing}")
    before, after = current.signing_key(now), pending.signing_key(now)
    if (before and before.kid) != (after and after.kid):
        raise RotationCheckFailed("pending set changes the signing key at once")
    if key.activates_at - key.created_at < settings.publish_delay_seconds:
        raise RotationCheckFailed(f"key {key.kid}: activates before the publish delay")
    return key.kid
