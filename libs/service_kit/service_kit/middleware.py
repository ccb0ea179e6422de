"""Pure ASGI middleware (cheaper than BaseHTTPMiddleware on every request)."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service_kit.logging import request_id_var

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class RequestContext:
    """Request id (taken from X-Request-ID when well-formed, else generated, and returned in
    that header) and one access line per request, written here rather than by uvicorn because
    uvicorn's access line carries the query string."""

    def __init__(self, app: ASGIApp, access_logger: str, access_log: bool = True) -> None:
        self.app = app
        self.log = logging.getLogger(access_logger)
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if self.access_log:
                client = scope.get("client")
                path = scope["path"]  # never the query string
                self.log.info(
                    f"{scope['method']} {path} {status}",
                    extra={
                        "method": scope["method"],
                        "path": path,
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                        "client_ip": client[0] if client else None,
                    },
                )
            request_id_var.reset(token)


# Sent with every answer of an API that browsers should never render, frame, sniff or cache
# (OWASP ASVS 14.4): the answers are JSON for apps, never pages. HSTS is the HTTPS load
# balancer's header, not the service's: the service itself speaks plain HTTP behind it.
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
)
# Answers carry tokens and personal data: nothing stores them unless a route says otherwise
# (the JWKS is public and cacheable).
DEFAULT_CACHE_CONTROL = (b"cache-control", b"no-store")


def with_security_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``headers`` plus the security headers and, when the route set none, ``no-store``."""
    present = {name.lower() for name, _ in headers}
    extra = [h for h in (*SECURITY_HEADERS, DEFAULT_CACHE_CONTROL) if h[0] not in present]
    return [*headers, *extra]


class SecurityHeaders:
    """Adds the security headers to every HTTP answer that passes through it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = with_security_headers(list(message.get("headers", [])))
            await send(message)

        await self.app(scope, receive, send_with_headers)


def too_large(limit: int) -> str:
    return f"request body exceeds {limit} bytes"


class BodySizeLimit:
    """Refuses bodies above ``max_bytes`` before they are parsed: a declared Content-Length at
    once (413, or 400 when it is no length), a streamed (chunked) body as it arrives, so no
    request makes the service buffer more than the limit."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0:
                    await _reject(send, 400, "bad Content-Length")
                    return
                if declared > limit:
                    await _reject(send, 413, too_large(limit))
                    return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # FastAPI passes an HTTPException from body reading through: a JSON 413.
                    raise HTTPException(413, too_large(limit))
            return message

        await self.app(scope, limited_receive, send)


async def _reject(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
