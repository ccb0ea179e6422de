"""The scopes access tokens carry (the contract with the main app)."""

USER_SCOPES: tuple[str, ...] = (
    "checkins:read",
    "checkins:write",
    "devices:read",
    "devices:write",
)
