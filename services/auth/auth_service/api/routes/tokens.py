"""Login (password or API key), refresh-token rotation and revocation."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Request, Response, status
from psycopg import errors
from service_kit.errors import ErrorBody

from auth_service.api.deps import (
    ConnDep,
    KeyRingDep,
    LimitsDep,
    PasswordsDep,
    PoolDep,
    SettingsDep,
    client_ip,
)
from auth_service.core.scopes import USER_SCOPES
from auth_service.core.security import (
    new_refresh_token,
    secret_digest,
    throttle_pseudonym,
)
from auth_service.models import (
    ApiKeyGrant,
    PasswordGrant,
    RefreshRequest,
    RevokeRequest,
    TokenRequest,
    TokenResponse,
)
from auth_service.store import api_keys, login, refresh_tokens, throttle, users

router = APIRouter(prefix="/v1/token", tags=["tokens"])
log = logging.getLogger("auth_service.tokens")
USER_SCOPE = " ".join(USER_SCOPES)
_NO_STORE = {"Cache-Control": "no-store"}


def _invalid_grant(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail)


def _too_many(retry_after: int) -> HTTPException:
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        "too many failed attempts, retry later",
        headers={"Retry-After": str(retry_after)},
    )


@router.post(
    "",
    response_model=TokenResponse,
    response_model_exclude_none=True,
    responses={
        401: {"model": ErrorBody, "description": "wrong credentials"},
        429: {"model": ErrorBody, "description": "throttled; see Retry-After"},
    },
)
async def token(
    body: Annotated[TokenRequest, Body()],
    request: Request,
    response: Response,
    pool: PoolDep,
    settings: SettingsDep,
    keyring: KeyRingDep,
    passwords: PasswordsDep,
    limits: LimitsDep,
) -> TokenResponse:
    response.headers.update(_NO_STORE)
    ip = client_ip(request)
    if isinstance(body, ApiKeyGrant):
        return await _api_key_grant(body, ip, pool, keyring, limits)
    return await _password_grant(body, ip, pool, settings, keyring, passwords, limits)


async def _password_grant(
    body: PasswordGrant,
    ip: str,
    pool: PoolDep,
    settings: SettingsDep,
    keyring: KeyRingDep,
    passwords: PasswordsDep,
    limits: LimitsDep,
) -> TokenResponse:
    account = throttle_pseudonym(body.email)
    async with pool.connection() as conn:
        state = await login.lookup(conn, limits, email=body.email, account=account, ip=ip)
    if state.retry_after:
        raise _too_many(state.retry_after)
    user = state.user
    # Unknown users are checked against a dummy hash: same time, same answer, no enumeration.
    ok, needs_rehash = await passwords.verify_async(
        user.password_hash if user else None, body.password
    )
    async with pool.connection() as conn:
        if not ok or user is None:
            await throttle.record_failure(conn, limits, account=account, ip=ip)
            raise _invalid_grant("invalid e-mail or password")
        if needs_rehash:
            new_hash = await passwords.hash_async(body.password)
            await users.update_password_hash(conn, user.id, new_hash)
            log.info("password rehashed", extra={"user_id": str(user.id)})
        refresh = new_refresh_token()
        try:
            family = await login.succeed(
                conn,
                account=account,
                user_id=user.id,
                token_hash=secret_digest(refresh),
                scope=USER_SCOPE,
                ttl_seconds=settings.refresh_token_ttl_seconds,
                family_ttl_seconds=settings.refresh_family_max_seconds,
            )
        except errors.ForeignKeyViolation:  # the account was deleted during the login
            raise _invalid_grant("invalid e-mail or password") from None
    access = keyring.issue(str(user.id), USER_SCOPE)
    log.info("login", extra={"user_id": str(user.id), "family_id": str(family)})
    return TokenResponse(
        access_token=access.token,
        expires_in=access.expires_in,
        scope=USER_SCOPE,
        refresh_token=refresh,
    )


async def _api_key_grant(
    body: ApiKeyGrant, ip: str, pool: PoolDep, keyring: KeyRingDep, limits: LimitsDep
) -> TokenResponse:
    async with pool.connection() as conn:
        if wait := await throttle.retry_after(conn, limits, account=None, ip=ip):
            raise _too_many(wait)
        key = await api_keys.use(conn, secret_digest(body.api_key))
        if key is None:
            await throttle.record_failure(conn, limits, account=None, ip=ip)
            raise _invalid_grant("invalid or revoked API key")
    scope = " ".join(key.scopes)
    access = keyring.issue(
        str(key.user_id), scope, extra={"akid": str(key.id), "token_use": "api_key"}
    )
    log.info("api key exchanged", extra={"user_id": str(key.user_id), "api_key_id": str(key.id)})
    return TokenResponse(access_token=access.token, expires_in=access.expires_in, scope=scope)


@router.post(
    "/refresh",
    response_model=TokenResponse,
    responses={401: {"model": ErrorBody, "description": "unknown, used, revoked or expired"}},
)
async def refresh(
    body: RefreshRequest,
    response: Response,
    conn: ConnDep,
    settings: SettingsDep,
    keyring: KeyRingDep,
) -> TokenResponse:
    response.headers.update(_NO_STORE)
    presented = secret_digest(body.refresh_token)
    successor = new_refresh_token()
    rotated = await refresh_tokens.rotate(
        conn,
        old_hash=presented,
        new_hash=secret_digest(successor),
        ttl_seconds=settings.refresh_token_ttl_seconds,
    )
    if rotated is None:
        await _explain_refusal(conn, presented)
        raise _invalid_grant("invalid refresh token")
    access = keyring.issue(str(rotated.user_id), rotated.scope)
    return TokenResponse(
        access_token=access.token,
        expires_in=access.expires_in,
        scope=rotated.scope,
        refresh_token=successor,
    )


async def _explain_refusal(conn: ConnDep, presented: bytes) -> None:
    state = await refresh_tokens.state(conn, presented)
    if state is None or state.used_at is None:
        return  # unknown, revoked or expired: nothing more to do
    # A rotated token came back: whoever holds the family may be an attacker. Revoke it all.
    revoked = await refresh_tokens.revoke_family(conn, state.family_id)
    log.warning(
        "refresh token reuse detected; family revoked",
        extra={
            "user_id": str(state.user_id),
            "family_id": str(state.family_id),
            "tokens_revoked": revoked,
        },
    )


@router.post("/revoke", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def revoke(body: RevokeRequest, conn: ConnDep) -> Response:
    """Log out: revoke the refresh token's whole family.

    Answers 204 whether or not the token was known (RFC 7009), so it reveals nothing.
    """
    state = await refresh_tokens.state(conn, secret_digest(body.refresh_token))
    if state is not None:
        await refresh_tokens.revoke_family(conn, state.family_id)
        log.info("refresh token family revoked", extra={"family_id": str(state.family_id)})
    return Response(status_code=status.HTTP_204_NO_CONTENT)
