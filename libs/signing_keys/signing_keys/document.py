"""The key-set document: parse, validate, serialise, and the two reader rules.

Format (``version`` 1): ``{"version": 1, "keys": [{"kid", "created_at", "activates_at",
"retires_at", "jwk"}, ...]}``; times are RFC 3339 UTC seconds (``2026-12-02T08:00:00Z``),
``retires_at`` may be null; ``jwk`` is a private EC P-256 JWK with the entry's ``kid``.

- signing key at ``now``: the key with the latest ``activates_at <= now`` that is not retired;
- published keys at ``now``: every key that is not retired (``retires_at`` null or later),
  including keys not active yet, so verifiers know a key before it signs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import ECKey

FORMAT_VERSION = 1
ALGORITHM = "ES256"
MAX_KEYS = 16
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
_KID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_ENTRY_FIELDS = frozenset({"kid", "created_at", "activates_at", "retires_at", "jwk"})


class KeySetError(ValueError):
    """The document is not a valid key set; the message says where (never a key's value)."""


@dataclass(frozen=True)
class KeyEntry:
    kid: str
    jwk: Mapping[str, Any]
    """The private JWK (with ``d``)."""
    created_at: int
    activates_at: int
    retires_at: int | None
    """Unix seconds; ``None``: not replaced yet."""

    def published_at(self, now: float) -> bool:
        return self.retires_at is None or now < self.retires_at

    def signs_at(self, now: float) -> bool:
        return self.activates_at <= now and self.published_at(now)

    def private_key(self) -> ECKey:
        return ECKey.import_key(dict(self.jwk))

    def public_jwk(self) -> dict[str, Any]:
        return {**self.private_key().as_dict(private=False), "alg": ALGORITHM, "use": "sig"}


@dataclass(frozen=True)
class KeySet:
    keys: tuple[KeyEntry, ...]

    def signing_key(self, now: float) -> KeyEntry | None:
        candidates = [k for k in self.keys if k.signs_at(now)]
        # Latest activation wins; on a tie the earlier entry (max keeps the first maximum).
        return max(candidates, key=lambda k: k.activates_at, default=None)

    def published(self, now: float) -> tuple[KeyEntry, ...]:
        return tuple(k for k in self.keys if k.published_at(now))

    def next_change(self, now: float) -> float | None:
        """The next moment the signing key or the published set changes (None: never)."""
        moments = [
            t
            for k in self.keys
            for t in (k.activates_at, k.retires_at)
            if t is not None and t > now
        ]
        return min(moments, default=None)

    def kids(self) -> list[str]:
        return [k.kid for k in self.keys]


def format_time(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(value: object, where: str) -> int:
    if not isinstance(value, str) or not _TIME.fullmatch(value):
        raise KeySetError(f"{where}: expected a time like 2026-12-02T08:00:00Z")
    try:
        parsed = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise KeySetError(f"{where}: not a valid date and time") from None
    return int(parsed.timestamp())


def _parse_jwk(value: object, kid: str, where: str) -> dict[str, Any]:
    if not isinstance(value, dict) or (value.get("kty"), value.get("crv")) != ("EC", "P-256"):
        raise KeySetError(f"{where}.jwk: must be an EC P-256 JWK (kty EC, crv P-256)")
    if "d" not in value:
        raise KeySetError(f"{where}.jwk: private part 'd' missing")
    if value.get("kid") != kid:
        raise KeySetError(f"{where}.jwk: kid differs from the entry's kid")
    if value.get("alg", ALGORITHM) != ALGORITHM or value.get("use", "sig") != "sig":
        raise KeySetError(f"{where}.jwk: must be alg {ALGORITHM}, use sig")
    try:
        ECKey.import_key(value)
    except (JoseError, ValueError, TypeError) as exc:
        raise KeySetError(f"{where}.jwk: {type(exc).__name__}") from None
    return {**value, "alg": ALGORITHM, "use": "sig"}


def _parse_entry(raw: object, index: int) -> KeyEntry:
    where = f"keys[{index}]"
    if not isinstance(raw, dict):
        raise KeySetError(f"{where}: must be an object")
    unknown = sorted(set(raw) - _ENTRY_FIELDS)
    missing = sorted(_ENTRY_FIELDS - set(raw))
    if unknown or missing:
        raise KeySetError(f"{where}: unknown fields {unknown}, missing fields {missing}")
    kid = raw["kid"]
    if not isinstance(kid, str) or not _KID.fullmatch(kid):
        raise KeySetError(f"{where}.kid: 1-64 characters of A-Z a-z 0-9 . _ -")
    created = _parse_time(raw["created_at"], f"{where}.created_at")
    activates = _parse_time(raw["activates_at"], f"{where}.activates_at")
    retires = (
        None if raw["retires_at"] is None else _parse_time(raw["retires_at"], f"{where}.retires_at")
    )
    if activates < created:
        raise KeySetError(f"{where}.activates_at: earlier than created_at")
    if retires is not None and retires <= activates:
        raise KeySetError(f"{where}.retires_at: must be later than activates_at")
    return KeyEntry(
        kid=kid,
        jwk=_parse_jwk(raw["jwk"], kid, where),
        created_at=created,
        activates_at=activates,
        retires_at=retires,
    )


def parse(text: str) -> KeySet:
    """The key set in ``text``, or KeySetError naming the first problem."""
    try:
        data = json.loads(text)
    except (ValueError, TypeError) as exc:
        raise KeySetError(f"not JSON ({type(exc).__name__})") from None
    if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
        raise KeySetError(f'expected {{"version": {FORMAT_VERSION}, "keys": [...]}}')
    entries = data.get("keys")
    if not isinstance(entries, list) or not entries:
        raise KeySetError("keys: must be a non-empty list")
    if len(entries) > MAX_KEYS:
        raise KeySetError(f"keys: {len(entries)} keys, at most {MAX_KEYS}")
    return build(_parse_entry(raw, index) for index, raw in enumerate(entries))


def build(entries: Iterable[KeyEntry]) -> KeySet:
    """A key set from entries, checking what the parser checks across entries."""
    keys = tuple(entries)
    kids = [k.kid for k in keys]
    duplicates = sorted({kid for kid in kids if kids.count(kid) > 1})
    if duplicates:
        raise KeySetError(f"keys: duplicate kid {duplicates[0]!r}")
    if len(keys) > MAX_KEYS:
        raise KeySetError(f"keys: {len(keys)} keys, at most {MAX_KEYS}")
    return KeySet(keys)


def dumps(key_set: KeySet) -> str:
    """The stored form: compact JSON, keys sorted (same set, same bytes)."""
    return json.dumps(
        {
            "version": FORMAT_VERSION,
            "keys": [
                {
                    "kid": k.kid,
                    "created_at": format_time(k.created_at),
                    "activates_at": format_time(k.activates_at),
                    "retires_at": None if k.retires_at is None else format_time(k.retires_at),
                    "jwk": dict(k.jwk),
                }
                for k in key_set.keys
            ],
        },
        sort_keys=True,
        separators=(",", ":"),
    )


def new_key(now: int, activates_at: int) -> KeyEntry:
    """A new P-256 key (joserfc/cryptography), its kid the creation time and a thumbprint."""
    key = ECKey.generate_key("P-256", private=True)
    kid = f"{format_time(now)[:19].replace('-', '').replace(':', '')}-{key.thumbprint()[:12]}"
    jwk = {**key.as_dict(private=True), "kid": kid, "alg": ALGORITHM, "use": "sig"}
    return KeyEntry(kid=kid, jwk=jwk, created_at=now, activates_at=activates_at, retires_at=None)


def retire(entry: KeyEntry, at: int) -> KeyEntry:
    return replace(entry, retires_at=at)
