"""`[data.signing_keys]`: the auth service's JWT signing-key set secret and its rotation
(the rotation function's settings: lambda/key_rotation/README.md)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from settings.base import FieldError, Strict


class SigningKeySettings(Strict):
    """`[data.signing_keys]`. Optional section: every field has a default."""

    rotation_days: Annotated[int, Field(ge=1, le=1000)] = 30
    """Secrets Manager rotates the key set every this many days (1 to 1000): the function adds
    a key that signs after `publish_delay_seconds` and retires the one it replaces. @default 30"""
    recovery_window_days: Annotated[int, Field(ge=7, le=30)] = 30
    """Days a deleted secret can still be restored; 7 to 30 (never an immediate deletion).
    @default 30"""
    publish_delay_seconds: Annotated[int, Field(ge=300, le=86400)] = 3600
    """A new key signs only this long after it was published (`KEY_ROTATION_PUBLISH_DELAY_SECONDS`):
    longer than every verifier's JWKS caching. @default 3600"""
    retire_after_seconds: Annotated[int, Field(ge=300, le=604800)] = 7200
    """A replaced key stays published this long (`KEY_ROTATION_RETIRE_AFTER_SECONDS`): longer
    than the longest access-token lifetime. @default 7200"""

    @model_validator(mode="after")
    def _schedule_outlasts_delay(self) -> SigningKeySettings:
        if self.rotation_days * 86400 <= self.publish_delay_seconds:
            raise FieldError(
                "data.signing_keys.rotation_days",
                self.rotation_days,
                f"must be longer than data.signing_keys.publish_delay_seconds "
                f"({self.publish_delay_seconds} s), or a key would be replaced before it signs",
            )
        return self
