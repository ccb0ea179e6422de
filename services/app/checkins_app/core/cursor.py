"""Opaque, tamper-evident paging cursors: ``base64url(JSON) "." base64url(HMAC-SHA256)``.

The JSON names the last row a page returned; the HMAC (keys from ``APP_CURSOR_KEYS``, the
first signs, every one verifies, so a key can be rotated without breaking the cursors clients
hold) proves the service issued it. Any other cursor (an edited or added field, a moved
timestamp, no signature) is an InvalidCursor, answered with 400, before anything is read.
A cursor is also bound to the device (or owner) it was issued for, so it cannot be replayed
against another listing; it grants nothing (ownership is checked on every call).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

MAX_CURSOR_CHARS = 512
MIN_KEY_BYTES = 32
_VERSION = 2
_CHECKIN_FIELDS = frozenset({"v", "k", "d", "t", "i", "s"})
_DEVICE_FIELDS = frozenset({"v", "k", "o", "i"})


class InvalidCursor(ValueError):
    """The cursor is not one this service issued for this listing (HTTP 400)."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CursorSigner:
    """Signs cursors with the first key and accepts a signature by any of the keys."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("at least one cursor key is needed")
        if any(len(key) < MIN_KEY_BYTES for key in keys):
            raise ValueError(f"cursor keys must be at least {MIN_KEY_BYTES} bytes")
        self._keys = tuple(keys)

    def __repr__(self) -> str:  # never the keys
        return f"CursorSigner({len(self._keys)} keys)"

    @staticmethod
    def _mac(key: bytes, body: str) -> bytes:
        return hmac.new(key, b"checkins-cursor." + body.encode(), hashlib.sha256).digest()

    def sign(self, doc: dict[str, object]) -> str:
        body = _b64(json.dumps(doc, separators=(",", ":")).encode())
        return f"{body}.{_b64(self._mac(self._keys[0], body))}"

    def verify(self, cursor: str) -> dict[str, object]:
        if len(cursor) > MAX_CURSOR_CHARS:
            raise InvalidCursor("cursor too long")
        body, dot, signature = cursor.partition(".")
        if not dot or not body or not signature:
            raise InvalidCursor("cursor is not signed by this service")
        try:
            given = _unb64(signature)
        except (binascii.Error, ValueError) as error:
            raise InvalidCursor("cursor is not signed by this service") from error
        if not any(hmac.compare_digest(given, self._mac(key, body)) for key in self._keys):
            raise InvalidCursor("cursor was not issued by this service or was altered")
        try:
            doc = json.loads(_unb64(body))
        except (binascii.Error, ValueError) as error:
            raise InvalidCursor("cursor is not valid") from error
        if not isinstance(doc, dict):
            raise InvalidCursor("cursor is not valid")
        return doc


def _decode(cursor: str, signer: CursorSigner, kind: str, fields: frozenset[str]) -> dict:
    doc = signer.verify(cursor)
    if doc.get("v") != _VERSION or doc.get("k") != kind or set(doc) != fields:
        raise InvalidCursor("cursor is not valid for this listing")
    return doc


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def _from_ms(value: object) -> datetime:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidCursor("cursor is not valid")
    try:
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError) as error:
        raise InvalidCursor("cursor is not valid") from error


def _uuid(value: object) -> UUID:
    try:
        return UUID(str(value))
    except ValueError as error:
        raise InvalidCursor("cursor is not valid") from error


@dataclass(frozen=True)
class CheckinPosition:
    """Where the next page starts: after the row (`ts`, `checkin_id`) in the listing's order
    (`ts` descending, then `checkin_id` ascending), or, without `checkin_id`, at the top of the
    day of `ts` (a read that stopped early); with the listing's lower bound `since`."""

    device_id: UUID
    ts: datetime
    checkin_id: UUID | None
    since: datetime

    def encode(self, signer: CursorSigner) -> str:
        return signer.sign(
            {
                "v": _VERSION,
                "k": "c",
                "d": str(self.device_id),
                "t": _ms(self.ts),
                "i": None if self.checkin_id is None else str(self.checkin_id),
                "s": _ms(self.since),
            }
        )

    @classmethod
    def decode(cls, cursor: str, device_id: UUID, signer: CursorSigner) -> CheckinPosition:
        doc = _decode(cursor, signer, "c", _CHECKIN_FIELDS)
        if _uuid(doc.get("d")) != device_id:
            raise InvalidCursor("cursor belongs to another device")
        return cls(
            device_id=device_id,
            ts=_from_ms(doc.get("t")),
            checkin_id=None if doc.get("i") is None else _uuid(doc.get("i")),
            since=_from_ms(doc.get("s")),
        )


@dataclass(frozen=True)
class DevicePosition:
    """The last device id returned in the caller's device list."""

    owner_id: str
    device_id: UUID

    def encode(self, signer: CursorSigner) -> str:
        return signer.sign({"v": _VERSION, "k": "d", "o": self.owner_id, "i": str(self.device_id)})

    @classmethod
    def decode(cls, cursor: str, owner_id: str, signer: CursorSigner) -> DevicePosition:
        doc = _decode(cursor, signer, "d", _DEVICE_FIELDS)
        if doc.get("o") != owner_id:
            raise InvalidCursor("cursor belongs to another caller")
        return cls(owner_id=owner_id, device_id=_uuid(doc.get("i")))
