"""`python -m checkins_app`: the image's entry point (uvicorn, JSON logs, graceful shutdown)."""

from __future__ import annotations

from service_kit.server import serve
from service_kit.settings import settings_or_exit

from checkins_app.core.config import load_keyspaces_settings, load_settings
from checkins_app.main import create_app

# The driver logs every reconnection attempt at INFO; keep its warnings.
LOG_LEVELS = {"cassandra": "WARNING"}


def main() -> None:
    # Both read before serving, so a bad variable is one line and exit status 2, not a
    # traceback from the lifespan.
    settings = settings_or_exit(load_settings)
    keyspaces = settings_or_exit(load_keyspaces_settings)
    serve(create_app(settings, keyspaces=keyspaces), settings, LOG_LEVELS)


if __name__ == "__main__":
    main()
