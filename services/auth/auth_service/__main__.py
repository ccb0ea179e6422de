"""`python -m auth_service`: the image's command (uvicorn, JSON logs, graceful shutdown)."""

from __future__ import annotations

from service_kit.server import serve
from service_kit.settings import settings_or_exit

from auth_service.core.config import load_settings
from auth_service.main import create_app


def main() -> None:
    settings = settings_or_exit(load_settings)
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
