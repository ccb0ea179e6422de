"""JSON log lines on stdout, each carrying the request id of the request being served.

Callers never log secrets: no passwords, tokens, API keys or connection strings; only ids.
"""

from __future__ import annotations

import contextvars
import json
import logging
import logging.config
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)

# Attributes every LogRecord has; anything else was passed with ``extra=`` and is logged.
# uvicorn adds "color_message" (the message with terminal colour codes): not for JSON logs.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if (request_id := request_id_var.get()) is not None:
            entry["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def log_config(level: str = "INFO", levels: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` document: every logger (ours and uvicorn's) through one
    JSON handler on stdout. ``levels`` sets chattier libraries' loggers apart."""
    loggers: dict[str, Any] = {
        name: {"handlers": [], "level": level, "propagate": True}
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
    }
    for name, own_level in (levels or {}).items():
        loggers[name] = {"handlers": [], "level": own_level, "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stdout",
            }
        },
        "root": {"handlers": ["stdout"], "level": level},
        "loggers": loggers,
    }


def configure_logging(level: str = "INFO", levels: Mapping[str, str] | None = None) -> None:
    logging.config.dictConfig(log_config(level, levels))
