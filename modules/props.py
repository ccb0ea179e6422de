"""Validation of construct props: one error type, naming the prop, the value and the reason.

Values that are unresolved cdktf tokens (references to other resources) are not known at synth
time and pass every check that needs the literal value.
"""

from __future__ import annotations

import re
from typing import Any

_ARN = re.compile(r"^arn:aws[a-z-]*:(?P<service>[a-z0-9-]+):[a-z0-9-]*:(\d{12})?:.+$")


class PropsError(ValueError):
    """A construct was given an invalid prop: `<Props>.<field>: <value>: <reason>`."""

    def __init__(self, field: str, value: Any, reason: str) -> None:
        super().__init__(f"{field}: {value!r}: {reason}")
        self.field, self.value, self.reason = field, value, reason


def is_token(value: Any) -> bool:
    """True for a string that cdktf resolves later (a reference to another resource)."""
    if not isinstance(value, str):
        return False
    from cdktf import Token  # only constructs call this, and they have loaded cdktf already

    return bool(Token.is_unresolved(value))


def require(condition: bool, field: str, value: Any, reason: str) -> None:
    if not condition:
        raise PropsError(field, value, reason)


def check_arn(field: str, value: str, *, service: str, resource: str = "") -> None:
    """`value` is an ARN of `service` whose resource part starts with `resource` (tokens pass)."""
    if is_token(value):
        return
    match = _ARN.fullmatch(value or "")
    require(
        match is not None
        and match["service"] == service
        and value.split(":", 5)[5].startswith(resource),
        field,
        value,
        f"is not an {service} ARN (arn:<partition>:{service}:...:{resource}...)",
    )
