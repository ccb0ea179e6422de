"""Request and response schemas. Requests refuse unknown fields."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from auth_service.core import passwords_policy
from auth_service.core.scopes import USER_SCOPES

# Pragmatic address check: one "@", no spaces, a dotted domain. Deliverability is the
# business of a confirmation e-mail, not of a regular expression.
# Control characters are refused everywhere text is stored (PostgreSQL text cannot hold NUL).
_EMAIL = re.compile(r"[^@\s\x00-\x1f\x7f]{1,64}@[^@\s.\x00-\x1f\x7f]+(\.[^@\s.\x00-\x1f\x7f]+)+")
_PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
Scope = Literal["checkins:read", "checkins:write", "devices:read", "devices:write"]
assert set(Scope.__args__) == set(USER_SCOPES)  # type: ignore[attr-defined]


def normalise_email(value: str) -> str:
    """NFKC, trimmed, lower-cased: one account per address however it is typed."""
    email = unicodedata.normalize("NFKC", value).strip().lower()
    if len(email) > 254 or not _EMAIL.fullmatch(email):
        raise ValueError("not a valid e-mail address")
    return email


# Characters that render as nothing (or move text around) and would let two addresses look
# identical: format (bidi controls, zero-width, BOM, soft hyphen), control, line and paragraph
# separators, private-use, surrogate and unassigned code points, and the invisible fillers
# and variation selectors that belong to other categories. NFKC keeps them, so they are
# refused at sign-up (an existing account still logs in with the address it has).
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Cc", "Co", "Cs", "Cn", "Zl", "Zp"})
_INVISIBLE = frozenset(
    {0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180B, 0x180C, 0x180D, 0x180E, 0x180F, 0x3164,
     0xFFA0, *range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)}
)  # fmt: skip


def refuse_invisible(value: str) -> str:
    for char in value:
        if unicodedata.category(char) in _INVISIBLE_CATEGORIES or ord(char) in _INVISIBLE:
            raise ValueError(
                f"e-mail address contains an invisible or control character (U+{ord(char):04X})"
            )
    return value


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


Email = Annotated[str, Field(min_length=3, max_length=320, examples=["ada@example.com"])]
Password = Annotated[str, Field(min_length=1, max_length=passwords_policy.MAX_LENGTH)]
OpaqueToken = Annotated[str, Field(min_length=1, max_length=512)]


class SignUp(Request):
    email: Email
    password: Annotated[
        str,
        Field(
            min_length=passwords_policy.MIN_LENGTH,
            max_length=passwords_policy.MAX_LENGTH,
            examples=["correct horse battery staple"],
        ),
    ]

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return refuse_invisible(normalise_email(refuse_invisible(value)))

    @model_validator(mode="after")
    def _policy(self) -> SignUp:
        if reason := passwords_policy.problem(self.password, self.email):
            raise ValueError(reason)
        return self


class PasswordGrant(Request):
    grant_type: Literal["password"]
    email: Email
    password: Password

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return normalise_email(value)


class ApiKeyGrant(Request):
    grant_type: Literal["api_key"]
    api_key: OpaqueToken


TokenRequest = Annotated[PasswordGrant | ApiKeyGrant, Field(discriminator="grant_type")]


class RefreshRequest(Request):
    refresh_token: OpaqueToken


class RevokeRequest(Request):
    refresh_token: OpaqueToken


class User(BaseModel):
    id: UUID
    email: str
    created_at: datetime


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 (the OAuth token type)
    expires_in: int = Field(description="access token lifetime in seconds")
    scope: str
    refresh_token: str | None = Field(
        default=None, description="single-use; absent for API-key grants"
    )


class ApiKeyCreate(Request):
    name: Annotated[str, Field(min_length=1, max_length=100, pattern=_PRINTABLE)]
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=len(USER_SCOPES))]

    @field_validator("scopes")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("scopes must not repeat")
        return value


class ApiKey(BaseModel):
    id: UUID
    name: str
    prefix: str = Field(description="first characters of the key, to recognise it")
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKey):
    key: str = Field(description="the API key; shown only in this response")


class Jwk(BaseModel):
    kty: str
    crv: str
    x: str
    y: str
    kid: str
    alg: str
    use: str


class Jwks(BaseModel):
    keys: list[Jwk]


class Status(BaseModel):
    status: str
