"""Settings from environment variables; an invalid environment stops the service with one line
that names each variable and the reason (exit status 2), never a traceback."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings

from service_kit.logging import configure_logging

S = TypeVar("S", bound=BaseSettings)
CONFIG_EXIT_STATUS = 2


class ConfigError(RuntimeError):
    """The environment does not describe a runnable service; the message names the variables."""


def _describe(error: dict, prefix: str) -> str:
    loc = [str(part) for part in error.get("loc", ()) if part != "__root__"]
    message = str(error["msg"]).removeprefix("Value error, ")
    if not loc:  # model-level check: the message already names the variables
        return message
    name = f"{prefix}{loc[0].upper()}"
    if error.get("type") == "missing":
        return f"{name}: missing environment variable"
    return f"{name}: {message}"


def load_settings(cls: type[S], service: str, **overrides: object) -> S:
    """``cls`` from the environment (``overrides`` win), or a ConfigError naming the culprits;
    the values themselves are never repeated (they may be secrets)."""
    try:
        return cls(**overrides)
    except ValidationError as exc:
        prefix = str(cls.model_config.get("env_prefix") or "")
        problems = "; ".join(_describe(err, prefix) for err in exc.errors(include_input=False))
        raise ConfigError(f"invalid {service} configuration: {problems}") from None


def settings_or_exit(load: Callable[[], S]) -> S:
    """``load()``, or one JSON log line with the ConfigError and exit status 2."""
    try:
        return load()
    except ConfigError as exc:
        configure_logging()
        logging.getLogger("service_kit.settings").error(str(exc))
        raise SystemExit(CONFIG_EXIT_STATUS) from None
