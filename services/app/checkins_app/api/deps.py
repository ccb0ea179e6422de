"""Request dependencies: settings, repository, the verified caller and scope checks.

Everything comes from `app.state` through `Depends`, so tests override a dependency instead of
patching globals.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from checkins_app.core.config import Settings
from checkins_app.core.cursor import CursorSigner
from checkins_app.core.security import InvalidToken, Principal, TokenVerifier
from checkins_app.store.repository import Repository

# auto_error=False: a missing header gets the same 401 shape as a bad token.
_bearer = HTTPBearer(auto_error=False, description="Access token from the auth service")


# `async def` although they do not await: FastAPI runs plain `def` dependencies in a thread
# pool, a thread hand-off per dependency per request.
async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_repository(request: Request) -> Repository:
    return request.app.state.repository


async def get_cursor_signer(request: Request) -> CursorSigner:
    return request.app.state.cursor_signer


def _unauthorized(reason: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=reason,
        headers={"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{reason}"'},
    )


async def _authenticate(
    request: Request, credentials: HTTPAuthorizationCredentials | None
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="missing bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    verifier: TokenVerifier = request.app.state.verifier
    try:
        return await verifier.verify(credentials.credentials)
    except InvalidToken as error:
        raise _unauthorized(str(error)) from error


class RequireScope:
    """Dependency: the verified caller, provided its token carries `scope`.

    One dependency (plus the bearer scheme, which documents the security in OpenAPI) rather
    than a chain: FastAPI's dependency resolution is a visible share of a request's CPU.
    """

    def __init__(self, scope: str) -> None:
        self.scope = scope

    async def __call__(
        self,
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        principal = await _authenticate(request, credentials)
        if self.scope not in principal.scopes:
            raise HTTPException(
                status_code=status.HTTP_403_FORBIDDEN,
                detail=f"token lacks the {self.scope} scope",
                headers={
                    "WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{self.scope}"'
                },
            )
        return principal


SettingsDep = Annotated[Settings, Depends(get_settings)]
RepositoryDep = Annotated[Repository, Depends(get_repository)]
SignerDep = Annotated[CursorSigner, Depends(get_cursor_signer)]
