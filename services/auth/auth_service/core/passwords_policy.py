"""Password policy: long enough and not on the bundled list of common passwords."""

from __future__ import annotations

from functools import cache
from importlib import resources

MIN_LENGTH = 12
MAX_LENGTH = 256  # bounds the Argon2 input; far above any passphrase


@cache
def common_passwords() -> frozenset[str]:
    text = (resources.files("auth_service") / "data" / "common_passwords.txt").read_text()
    return frozenset(
        line.strip().casefold() for line in text.splitlines() if line.strip() and line[0] != "#"
    )


def problem(password: str, email: str | None = None) -> str | None:
    """Why the password is refused, or None if it is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"password must be at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"password must be at most {MAX_LENGTH} characters"
    folded = password.casefold()
    if folded in common_passwords():
        return "password is too common"
    if len(set(folded)) < 4:
        return "password has too few distinct characters"
    if email and (folded == email.casefold() or folded == email.split("@")[0].casefold()):
        return "password must not be the e-mail address"
    return None
