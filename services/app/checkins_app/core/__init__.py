"""Cross-cutting pieces of the service: configuration, token verification, logging, limits."""
