"""Where the key ring comes from: Secrets Manager (on AWS) or AUTH_SIGNING_KEYS (local, tests).

On AWS the key set is read from the secret at start and again every
``AUTH_SIGNING_KEYS_REFRESH_SECONDS`` (a rotation adds a key that must be published long before
it signs; an environment variable ECS injected would be frozen at task start). The read is a
blocking boto3 call, so it runs in a worker thread. A failed read keeps the last good key ring
and logs; until the first good read the service has no keys, and /ready says so.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import anyio.to_thread
from botocore.config import Config
from signing_keys import document

from auth_service.core.security import KeyRing

log = logging.getLogger("auth_service.signing_keys")
# Until the first good read, retry this often (not the whole refresh interval).
STARTUP_RETRY_SECONDS = 5.0
CLIENT_CONFIG = Config(
    connect_timeout=3, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"}
)


class KeySource:
    """Holds the current key ring and, for a secret, refreshes it."""

    def __init__(
        self,
        keyring: KeyRing | None = None,
        load: Callable[[], KeyRing] | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keyring = keyring
        self._load = load
        self._clock = clock
        self.loaded_at: float | None = clock() if keyring is not None else None
        self.failures = 0

    @property
    def refreshes(self) -> bool:
        return self._load is not None

    async def refresh(self) -> bool:
        """Read the key set once; True if it was read. Never raises: a failure is logged."""
        if self._load is None:
            return True
        try:
            ring = await anyio.to_thread.run_sync(self._load)
        except Exception as exc:  # any failure means "keep the last good set"
            self.failures += 1
            age = None if self.loaded_at is None else round(self._clock() - self.loaded_at)
            log.warning(
                "signing keys not refreshed"
                + ("; keeping the last good set" if self.keyring else "; no keys yet"),
                extra={"error": type(exc).__name__, "key_set_age_seconds": age},
            )
            return False
        previous = self.keyring
        self.keyring, self.loaded_at, self.failures = ring, self._clock(), 0
        if previous is None or previous.key_set.kids() != ring.key_set.kids():
            log.info(
                "signing keys loaded",
                extra={"kids": ring.key_set.kids(), "signing_kid": ring.current_kid},
            )
        return True

    async def run(self, interval: float) -> None:
        """Refresh forever: every ``interval`` seconds, faster while no set was ever read."""
        while True:
            delay = interval if self.keyring is not None else min(interval, STARTUP_RETRY_SECONDS)
            await asyncio.sleep(delay)
            await self.refresh()


def secret_loader(
    client: Any,
    secret_arn: str,
    *,
    issuer: str,
    audience: str,
    ttl_seconds: int,
    clock: Callable[[], float] = time.time,
) -> Callable[[], KeyRing]:
    """A blocking function that reads the secret's AWSCURRENT key set into a KeyRing."""

    def load() -> KeyRing:
        # AWSCURRENT named explicitly: the version a rotation finished, never a pending one.
        value = client.get_secret_value(SecretId=secret_arn, VersionStage="AWSCURRENT")
        key_set = document.parse(value["SecretString"])
        return KeyRing(
            key_set, issuer=issuer, audience=audience, ttl_seconds=ttl_seconds, clock=clock
        )

    return load


def secrets_manager_client(secret_arn: str) -> Any:
    """A Secrets Manager client in the secret's own region (taken from its ARN)."""
    import boto3  # imported here: local runs with AUTH_SIGNING_KEYS never need it

    region = secret_arn.split(":")[3]
    return boto3.client("secretsmanager", region_name=region, config=CLIENT_CONFIG)
