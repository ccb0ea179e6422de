"""The public keys that verify access tokens: every key of the set that is not retired, also
keys that do not sign yet."""

from __future__ import annotations

from fastapi import APIRouter, Response

from auth_service.api.deps import KeyRingDep
from auth_service.models import Jwks

router = APIRouter(tags=["keys"])
CACHE_CONTROL = "public, max-age=300"


@router.get(
    "/.well-known/jwks.json",
    response_model=None,
    responses={200: {"model": Jwks, "description": "JWK Set"}},
)
async def jwks(keyring: KeyRingDep) -> Response:
    # Pre-serialised; rebuilt only when the key set is re-read or a key activates or retires.
    return Response(
        content=keyring.jwks_bytes,
        media_type="application/json",
        headers={"Cache-Control": CACHE_CONTROL},
    )
