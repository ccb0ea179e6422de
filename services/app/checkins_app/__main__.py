"""`python -m checkins_app`: serve the app with uvicorn, JSON logs, graceful shutdown."""

from __future__ import annotations

import logging.config

import uvicorn

from checkins_app.core.config import Settings
from checkins_app.core.logging import log_config
from checkins_app.main import create_app


def main() -> None:
    settings = Settings()  # type: ignore[call-arg]  # read from the environment
    config = log_config(settings.log_level)
    logging.config.dictConfig(config)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=config,
        access_log=settings.access_log,
        # On SIGTERM uvicorn stops accepting, lets in-flight requests finish within this bound,
        # then runs the lifespan shutdown (drain writes, close the cluster).
        timeout_graceful_shutdown=settings.shutdown_drain_seconds,
        # The ALB terminates TLS and sets X-Forwarded-*; trust it (it is the only peer).
        proxy_headers=True,
        forwarded_allow_ips="*",
        server_header=False,
    )


if __name__ == "__main__":
    main()
