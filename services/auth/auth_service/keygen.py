"""Signing keys for AUTH_SIGNING_KEYS: ``python -m auth_service.keygen [--rotate CURRENT]``.

Without options: a new JWK Set with one private P-256 key. With ``--rotate``: a new key first
(it signs from the next deployment), followed by the current signing key (still published, so
tokens it signed verify until they expire); older keys are dropped.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

from auth_service.core.security import generate_signing_key


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m auth_service.keygen", description=__doc__)
    parser.add_argument("--rotate", metavar="JWKS_JSON", help="the current AUTH_SIGNING_KEYS")
    args = parser.parse_args(argv)
    new_key = generate_signing_key()
    # Readable (when it was made) and unique (a thumbprint prefix) at once.
    new_key["kid"] = f"{datetime.now(UTC):%Y%m%d}-{new_key['kid'][:12]}"
    keys = [new_key]
    if args.rotate:
        current = json.loads(args.rotate).get("keys") or []
        keys.extend(current[:1])
    json.dump({"keys": keys}, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
