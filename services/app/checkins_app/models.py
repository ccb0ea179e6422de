"""Request and response schemas of the API (also the OpenAPI document)."""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    field_validator,
)

MAX_BATCH = 50
MAX_PAYLOAD_BYTES = 4096
MAX_PAYLOAD_DEPTH = 4
MAX_PAYLOAD_KEYS = 64
MAX_PAGE = 500
DEFAULT_PAGE = 50


def _encodable(text: str) -> str:
    # Lone surrogates survive JSON parsing but cannot be stored as CQL text or sent back as UTF-8.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError("text must be valid Unicode (no lone surrogates)") from error
    return text


SafeText = Annotated[str, AfterValidator(_encodable)]

# ISO 8601 date and time with a UTC offset ("Z" or "+02:00"), nothing else: pydantic alone
# would also take Unix seconds as a number or a numeric string.
_ISO_WITH_OFFSET = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}(:?\d{2})?)"
)


def _iso_8601_text(value: object) -> object:
    if isinstance(value, datetime):  # constructed in code, not parsed
        return value
    if not isinstance(value, str) or not _ISO_WITH_OFFSET.fullmatch(value):
        raise ValueError(
            "ts must be an ISO 8601 date and time with an offset, e.g. 2026-01-01T12:00:00Z"
        )
    return value


IsoTimestamp = Annotated[AwareDatetime, BeforeValidator(_iso_8601_text)]


def _check_json_tree(value: Any, depth: int) -> None:
    if depth > MAX_PAYLOAD_DEPTH:
        raise ValueError(f"payload nests deeper than {MAX_PAYLOAD_DEPTH} levels")
    if isinstance(value, dict):
        if len(value) > MAX_PAYLOAD_KEYS:
            raise ValueError(f"payload objects hold at most {MAX_PAYLOAD_KEYS} keys")
        for key, item in value.items():
            _encodable(key)
            _check_json_tree(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_json_tree(item, depth + 1)
    elif isinstance(value, str):
        _encodable(value)
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError("payload numbers must be finite")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CheckinIn(_Strict):
    checkin_id: UUID = Field(description="Client-generated id; retries reuse it (idempotency key)")
    ts: IsoTimestamp = Field(
        description="Device time of the check-in, ISO 8601 with offset; stored to the millisecond"
    )
    payload: dict[str, JsonValue] = Field(
        default_factory=dict,
        description=f"Small JSON object (battery, accuracy, app version...), <= {MAX_PAYLOAD_BYTES}"
        " bytes as compact JSON",
        json_schema_extra={"maxProperties": MAX_PAYLOAD_KEYS},
    )

    @field_validator("payload")
    @classmethod
    def _bounded(cls, payload: dict[str, JsonValue]) -> dict[str, JsonValue]:
        _check_json_tree(payload, 1)
        if len(compact_json(payload).encode()) > MAX_PAYLOAD_BYTES:
            raise ValueError(f"payload exceeds {MAX_PAYLOAD_BYTES} bytes as compact JSON")
        return payload


def compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, allow_nan=False)


class CheckinBatch(_Strict):
    checkins: list[CheckinIn] = Field(min_length=1, max_length=MAX_BATCH)

    @field_validator("checkins")
    @classmethod
    def _unique_ids(cls, checkins: list[CheckinIn]) -> list[CheckinIn]:
        # Two items with one id would be one row: the batch would store less than it says.
        if len({c.checkin_id for c in checkins}) < len(checkins):
            raise ValueError("checkin_id values must be unique within a batch")
        return checkins


class CheckinAck(BaseModel):
    checkin_id: UUID
    ts: datetime
    day: date


class CheckinBatchResult(BaseModel):
    device_id: UUID
    stored: int = Field(description="Check-ins durably written (retries rewrite the same rows)")
    checkins: list[CheckinAck]


class CheckinOut(BaseModel):
    checkin_id: UUID
    ts: datetime
    payload: dict[str, JsonValue]
    received_at: datetime | None = Field(description="Server time of the latest delivery")


class CheckinPage(BaseModel):
    device_id: UUID
    checkins: list[CheckinOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next (older) page")


Platform = Literal["ios", "android", "web", "other"]


class DeviceCreate(_Strict):
    device_id: UUID | None = Field(
        default=None,
        description="Client-generated id makes registration idempotent; generated when absent",
    )
    name: SafeText = Field(min_length=1, max_length=100)
    platform: Platform


class Device(BaseModel):
    device_id: UUID
    name: str
    platform: str
    created_at: datetime


class DevicePage(BaseModel):
    devices: list[Device]
    next_cursor: str | None
