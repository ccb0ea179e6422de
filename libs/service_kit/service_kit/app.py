"""What every service installs on its FastAPI application, in the one order that works."""

from __future__ import annotations

from fastapi import FastAPI

from service_kit import errors
from service_kit.middleware import BodySizeLimit, RequestContext


def install(
    app: FastAPI, *, max_body_bytes: int, access_logger: str, access_log: bool = True
) -> None:
    """The shared error handlers, the body-size limit and the request context; the latter is
    added last so it is outermost and every answer, a 413 included, gets a request id."""
    errors.install(app)
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
    app.add_middleware(RequestContext, access_logger=access_logger, access_log=access_log)
