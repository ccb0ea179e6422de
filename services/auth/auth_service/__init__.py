"""Auth service: sign-up, login, rotating refresh tokens, API keys and JWKS."""
