"""Dependencies injected with ``Depends`` (tests override these, not globals).

All are ``async def``: FastAPI runs plain ``def`` dependencies in a worker thread, a hop that
cost more than the whole JWKS handler.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from auth_service.core.config import Settings
from auth_service.core.security import InvalidToken, KeyRing, KeysUnavailable, Passwords
from auth_service.store.throttle import Limits


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_keyring(request: Request) -> KeyRing:
    """The current key ring (re-read from Secrets Manager now and then); 503 before the first
    good read."""
    keyring = request.app.state.signing_keys.keyring
    if keyring is None:
        raise KeysUnavailable("signing keys not loaded yet")
    return keyring


async def get_passwords(request: Request) -> Passwords:
    return request.app.state.passwords


async def get_pool(request: Request) -> AsyncConnectionPool:
    return request.app.state.pool


async def get_limits(settings: Annotated[Settings, Depends(get_settings)]) -> Limits:
    return Limits(
        window_seconds=settings.throttle_window_seconds,
        account_max_failures=settings.throttle_account_max_failures,
        ip_max_failures=settings.throttle_ip_max_failures,
    )


async def get_conn(
    pool: Annotated[AsyncConnectionPool, Depends(get_pool)],
) -> AsyncIterator[AsyncConnection]:
    async with pool.connection() as conn:
        yield conn


def client_ip(request: Request) -> str:
    # uvicorn's --proxy-headers puts the load balancer's X-Forwarded-For client here.
    return request.client.host if request.client else "unknown"


_bearer = HTTPBearer(auto_error=False, description="an access token from POST /v1/token")


class Principal:
    def __init__(self, claims: dict[str, Any]) -> None:
        self.claims = claims
        self.user_id = UUID(claims["sub"])
        self.scopes = frozenset(str(claims.get("scope", "")).split())
        self.via_api_key = claims.get("token_use") == "api_key"


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=detail,
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


async def current_user(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    keyring: Annotated[KeyRing, Depends(get_keyring)],
) -> Principal:
    """The user behind a valid access token from a password login (not from an API key)."""
    if credentials is None:
        raise _unauthorized("missing bearer token")
    try:
        claims = keyring.verify(credentials.credentials)
        principal = Principal(claims)
    except InvalidToken as exc:
        raise _unauthorized(str(exc)) from None
    except ValueError:
        raise _unauthorized("invalid token: subject is not a user id") from None
    if principal.via_api_key:
        # A leaked integration key must not be able to mint more keys.
        raise HTTPException(status.HTTP_403_FORBIDDEN, "API-key tokens cannot manage API keys")
    return principal


SettingsDep = Annotated[Settings, Depends(get_settings)]
KeyRingDep = Annotated[KeyRing, Depends(get_keyring)]
PasswordsDep = Annotated[Passwords, Depends(get_passwords)]
PoolDep = Annotated[AsyncConnectionPool, Depends(get_pool)]
ConnDep = Annotated[AsyncConnection, Depends(get_conn)]
LimitsDep = Annotated[Limits, Depends(get_limits)]
UserDep = Annotated[Principal, Depends(current_user)]
