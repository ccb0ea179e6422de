"""The FastAPI application every service starts from, with what they all install on it."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from service_kit import errors
from service_kit.errors import ErrorBody
from service_kit.middleware import BodySizeLimit, RequestContext, SecurityHeaders
from service_kit.server import ServerSettings

# Answers any route can give; documented so clients (and schema tests) expect them.
SHARED_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "body is not parseable or has a bad Content-Length"},
    413: {"model": ErrorBody, "description": "request body too large"},
}


def build(settings: ServerSettings, *, name: str, **options: Any) -> FastAPI:
    """A FastAPI app (``options`` go to FastAPI) with ``settings`` on ``app.state``, the shared
    error handlers, the body-size limit, the security headers and the request context, which is
    added last so it is outermost and every answer, a 413 included, gets a request id and the
    headers (a 500 gets them from its handler). Access lines are logged as ``<name>.access``."""
    options["responses"] = {**SHARED_RESPONSES, **options.get("responses", {})}
    app = FastAPI(**options)
    app.state.settings = settings
    errors.install(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(
        RequestContext, access_logger=f"{name}.access", access_log=settings.access_log
    )
    return app
