"""Settings from environment variables (prefix ``KEY_ROTATION_``), checked with one-line errors.

Only the standard library: the deployment package stays at joserfc + cryptography.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class ConfigError(ValueError):
    """A setting is out of range; the message names the variable, the value and the range."""


@dataclass(frozen=True)
class RotationSettings:
    publish_delay_seconds: int = 3600
    """A new key signs only this long after it was written: longer than the auth service's
    refresh interval + the app's JWKS cache TTL (+ any HTTP cache of the JWKS) + clock skew."""
    retire_after_seconds: int = 7200
    """A replaced key stays published this long after its successor started signing: longer
    than the longest access-token lifetime + the verifiers' leeway + clock skew."""
    log_level: str = "INFO"


# variable suffix -> (field, minimum, maximum)
_RANGES = {
    "PUBLISH_DELAY_SECONDS": ("publish_delay_seconds", 300, 86_400),
    "RETIRE_AFTER_SECONDS": ("retire_after_seconds", 300, 604_800),
}
PREFIX = "KEY_ROTATION_"


def load_settings(environ: Mapping[str, str] | None = None) -> RotationSettings:
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for suffix, (field, low, high) in _RANGES.items():
        raw = env.get(PREFIX + suffix)
        if raw is None or raw == "":
            continue
        try:
            number = int(raw)
        except ValueError:
            number = None
        if number is None or not low <= number <= high:
            raise ConfigError(
                f"{PREFIX}{suffix}={raw!r}: must be a whole number of seconds from {low} to {high}"
            )
        values[field] = number
    level = env.get(PREFIX + "LOG_LEVEL") or "INFO"
    if level.upper() not in LOG_LEVELS:
        raise ConfigError(f"{PREFIX}LOG_LEVEL={level!r}: must be one of {', '.join(LOG_LEVELS)}")
    values["log_level"] = level.upper()
    return RotationSettings(**values)  # type: ignore[arg-type]
