"""A per-day lease in Keyspaces, so that only one run at a time works on a day.

Why: a run that reads a partition while another run deletes it reads a truncated copy, whose
bytes (and so key) differ from the full copy: the archive would hold those rows twice. With
the lease, a run only reads, uploads, deletes or writes the manifest of a day while it holds
the day's lease, so no other run can delete under its reads.

The lease is one row of ``cleanup_leases`` (``day`` -> ``owner``, ``expires_at``), changed only
by lightweight transactions, which Amazon Keyspaces supports:

- take: ``INSERT ... IF NOT EXISTS``; if another run holds it and its ``expires_at`` has passed,
  ``UPDATE ... IF owner = <old> AND expires_at = <old>`` (one taker wins);
- renew: ``UPDATE ... IF owner = <me>``, when less than two thirds of the lease is left; it
  applies only if no run took the day over since, which proves the holder held it throughout;
- release: ``DELETE ... IF owner = <me>`` when the run is done with the day.

The holder checks its lease after each partition's read and before each upload, delete and
manifest (:meth:`DayLease.ensure`), and only acts with more than ``lease_seconds / 3`` of it
left (renewing otherwise), so another run can take the day over only after the holder went that
long without checking: a pause or clock difference shorter than that cannot make two runs act
on one day. A run killed while holding a lease blocks the day until ``expires_at``; the run
that takes the day over then deletes the row when done.

Every statement may be repeated by the driver: a repeated take or renew finds its own owner id
in the row and counts as applied.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import uuid
from collections.abc import Callable
from typing import Any

from checkins_data import schema

Clock = Callable[[], dt.datetime]
_KEYSPACE = re.compile(r"[a-z][a-z0-9_]{0,47}")


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class LeaseLost(RuntimeError):
    """Another run took the day over; this run must not touch it any more."""


def _naive_utc(value: dt.datetime) -> dt.datetime:
    """The driver returns timestamps as naive UTC; compare like with like."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


class LeaseTable:
    """The prepared statements on ``cleanup_leases``."""

    def __init__(self, session: Any, keyspace: str) -> None:
        assert schema.CLEANUP_LEASES == "cleanup_leases"
        if not _KEYSPACE.fullmatch(keyspace):
            raise ValueError(f"invalid keyspace name {keyspace!r}")
        self._session = session
        self._keyspace = keyspace
        self._take = self._prepare(
            "INSERT INTO {ks}.cleanup_leases (day, owner, expires_at) VALUES (?, ?, ?) "
            "IF NOT EXISTS"
        )
        self._take_over = self._prepare(
            "UPDATE {ks}.cleanup_leases SET owner = ?, expires_at = ? WHERE day = ? "
            "IF owner = ? AND expires_at = ?"
        )
        self._renew = self._prepare(
            "UPDATE {ks}.cleanup_leases SET owner = ?, expires_at = ? WHERE day = ? IF owner = ?"
        )
        self._release = self._prepare("DELETE FROM {ks}.cleanup_leases WHERE day = ? IF owner = ?")
        self._read = self._prepare(
            "SELECT owner, expires_at FROM {ks}.cleanup_leases WHERE day = ?"
        )

    def _prepare(self, template: str) -> Any:
        statement = self._session.prepare(template.replace("{ks}", self._keyspace))
        # Safe to repeat: a repeat finds this run's own owner id and is taken as applied.
        statement.is_idempotent = True
        return statement

    def _lwt(self, statement: Any, params: tuple[Any, ...]) -> tuple[bool, Any]:
        row = self._session.execute(statement, params).one()
        applied = bool(row[0]) if row is not None else False
        return applied, row

    def holder(self, day: dt.date) -> tuple[uuid.UUID, dt.datetime] | None:
        row = self._session.execute(self._read, (day,)).one()
        if row is None or row.owner is None or row.expires_at is None:
            return None
        return row.owner, _naive_utc(row.expires_at)

    def take(
        self, day: dt.date, owner: uuid.UUID, expires_at: dt.datetime, now: dt.datetime
    ) -> tuple[uuid.UUID, dt.datetime] | None:
        """Take the day's lease; ``None`` when taken, else the (owner, expiry) holding it."""
        expires_at = _naive_utc(expires_at)
        now = _naive_utc(now)
        for _ in range(3):
            applied, _row = self._lwt(self._take, (day, owner, expires_at))
            if applied:
                return None
            held = self.holder(day)
            if held is None:  # released in between: try again
                continue
            if held[0] == owner:  # our own earlier attempt was applied
                return None
            if held[1] > now:
                return held
            applied, _row = self._lwt(self._take_over, (owner, expires_at, day, held[0], held[1]))
            if applied:
                return None
            again = self.holder(day)
            if again is not None and again[0] == owner:
                return None
        return self.holder(day) or (owner, expires_at)

    def renew(self, day: dt.date, owner: uuid.UUID, expires_at: dt.datetime) -> bool:
        applied, _row = self._lwt(self._renew, (owner, _naive_utc(expires_at), day, owner))
        if applied:
            return True
        held = self.holder(day)
        return held is not None and held == (owner, _naive_utc(expires_at))

    def release(self, day: dt.date, owner: uuid.UUID) -> None:
        self._lwt(self._release, (day, owner))


class DayLease:
    """This run's lease on one day; :meth:`ensure` before every step that must hold it."""

    def __init__(
        self, table: LeaseTable, day: dt.date, owner: uuid.UUID, seconds: float, clock: Clock
    ) -> None:
        self._table = table
        self.day = day
        self.owner = owner
        self._duration = dt.timedelta(seconds=seconds)
        self._clock = clock
        self._expires_at: dt.datetime | None = None
        self._lost = False
        self._lock = threading.Lock()

    def take(self) -> tuple[uuid.UUID, dt.datetime] | None:
        """``None`` when this run now holds the day, else the other holder and its expiry."""
        now = self._clock()
        expires_at = now + self._duration
        held = self._table.take(self.day, self.owner, expires_at, now)
        if held is None:
            self._expires_at = expires_at
        return held

    def ensure(self) -> None:
        """Raise :class:`LeaseLost` unless the lease is held with more than a third left."""
        with self._lock:
            if self._lost or self._expires_at is None:
                raise LeaseLost(f"lease on {self.day} not held")
            now = self._clock()
            if self._expires_at - now > self._duration * 2 / 3:
                return
            # The renewal applies only while this run is still the owner: no one took the day
            # over since the last renewal, so nothing was deleted under this run's reads.
            expires_at = now + self._duration
            if self._table.renew(self.day, self.owner, expires_at):
                self._expires_at = expires_at
                return
            self._lost = True
            raise LeaseLost(f"lease on {self.day} lost (expiry {self._expires_at.isoformat()})")

    @property
    def lost(self) -> bool:
        return self._lost

    def release(self) -> None:
        with self._lock:
            if self._expires_at is not None and not self._lost:
                self._table.release(self.day, self.owner)
            self._expires_at = None
