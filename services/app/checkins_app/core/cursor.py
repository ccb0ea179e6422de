"""Opaque paging cursors: base64url JSON naming the last row a page returned.

A cursor is bound to the device (or owner) it was issued for, so it cannot be replayed against
another listing; it carries no secret and grants nothing (ownership is checked on every call).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

MAX_CURSOR_CHARS = 512
_VERSION = 1


class InvalidCursor(ValueError):
    """The cursor is not one this service issued for this listing (HTTP 400)."""


def _encode(doc: dict[str, object]) -> str:
    raw = json.dumps(doc, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode(cursor: str, kind: str) -> dict[str, object]:
    if len(cursor) > MAX_CURSOR_CHARS:
        raise InvalidCursor("cursor too long")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        doc = json.loads(raw)
    except (binascii.Error, ValueError) as error:
        raise InvalidCursor("cursor is not valid") from error
    if not isinstance(doc, dict) or doc.get("v") != _VERSION or doc.get("k") != kind:
        raise InvalidCursor("cursor is not valid")
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
    """The last check-in returned (`ts`, `checkin_id`) and the lower bound of the listing."""

    device_id: UUID
    ts: datetime
    checkin_id: UUID
    since: datetime

    def encode(self) -> str:
        return _encode(
            {
                "v": _VERSION,
                "k": "c",
                "d": str(self.device_id),
                "t": _ms(self.ts),
                "i": str(self.checkin_id),
                "s": _ms(self.since),
            }
        )

    @classmethod
    def decode(cls, cursor: str, device_id: UUID) -> CheckinPosition:
        doc = _decode(cursor, "c")
        if _uuid(doc.get("d")) != device_id:
            raise InvalidCursor("cursor belongs to another device")
        return cls(
            device_id=device_id,
            ts=_from_ms(doc.get("t")),
            checkin_id=_uuid(doc.get("i")),
            since=_from_ms(doc.get("s")),
        )


@dataclass(frozen=True)
class DevicePosition:
    """The last device id returned in the caller's device list."""

    owner_id: str
    device_id: UUID

    def encode(self) -> str:
        return _encode({"v": _VERSION, "k": "d", "o": self.owner_id, "i": str(self.device_id)})

    @classmethod
    def decode(cls, cursor: str, owner_id: str) -> DevicePosition:
        doc = _decode(cursor, "d")
        if doc.get("o") != owner_id:
            raise InvalidCursor("cursor belongs to another caller")
        return cls(owner_id=owner_id, device_id=_uuid(doc.get("i")))
