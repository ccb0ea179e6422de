"""The run command of every service: uvicorn with JSON logs, proxy headers from trusted peers
only, and a graceful shutdown that fits in ECS's 30 s stop timeout.

``python -m service_kit.server module:factory`` serves any application factory under the very
same options (benchmarks use it for a bare FastAPI floor).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Mapping
from typing import Any, Literal

import uvicorn
from pydantic import BaseModel, Field

from service_kit.logging import log_config

# Longer than the load balancer's 60 s idle timeout, so the ALB, not uvicorn, closes idle
# connections (otherwise a request can race a closing connection and get a 502).
KEEP_ALIVE_SECONDS = 65


class ServerSettings(BaseModel):
    """The run command's settings, mixed into each service's settings (and so read with its
    environment prefix)."""

    # Loopback unless told otherwise: a service started by hand is not reachable from the
    # network. The images set 0.0.0.0 (the container listens behind the load balancer).
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # One line per request (method, path without query string, status, duration, client IP).
    access_log: bool = True
    # Upper bound for in-flight requests to finish on SIGTERM (ECS stopTimeout is 30 s).
    shutdown_drain_seconds: float = Field(default=20, ge=0, le=120)
    # Larger request bodies get 413; each service sets its own default and floor.
    max_body_bytes: int = Field(default=64 * 1024, ge=256)


def uvicorn_options(
    settings: ServerSettings, log_levels: Mapping[str, str] | None = None
) -> dict[str, Any]:
    return {
        "host": settings.host,
        "port": settings.port,
        "log_config": log_config(settings.log_level, log_levels),
        # The service writes its own access line (RequestContext).
        "access_log": False,
        "server_header": False,
        # The ALB terminates TLS and sets X-Forwarded-*. Only peers in FORWARDED_ALLOW_IPS
        # (uvicorn reads it when this is None; default loopback) may set the client address:
        # "*" would let any client spoof it.
        "proxy_headers": True,
        "forwarded_allow_ips": None,
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
        # On SIGTERM uvicorn stops accepting, lets in-flight requests finish within this bound,
        # then runs the lifespan shutdown.
        "timeout_graceful_shutdown": settings.shutdown_drain_seconds,
    }


def serve(app: Any, settings: ServerSettings, log_levels: Mapping[str, str] | None = None) -> None:
    uvicorn.run(app, **uvicorn_options(settings, log_levels))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m service_kit.server", description=__doc__)
    parser.add_argument("factory", help="module:function returning the ASGI application")
    parser.add_argument("--app-dir", help="a folder to import the module from")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    if args.app_dir:
        sys.path.insert(0, args.app_dir)
    module, _, name = args.factory.partition(":")
    app = getattr(importlib.import_module(module), name)()
    serve(app, ServerSettings(host=args.host, port=args.port))


if __name__ == "__main__":
    main()
