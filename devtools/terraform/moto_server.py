"""moto's server with the fixes the verification needs (``-m devtools.terraform.moto_server``).

Each fix names the moto behaviour it covers; the verification prints them (`FIXES`), so its
output says what the emulator got wrong. Arguments are moto.server's own.
"""

from __future__ import annotations

import base64
import hashlib
import sys
from typing import Any

# Printed by the verification: what this server changes in moto, and why.
FIXES: tuple[str, ...] = (
    "RDS DbiResourceId unique per DB instance (moto 5.2 gives every instance the same one, so "
    "the provider's lookup by resource id finds two instances once dev and prod share the "
    "emulated account)",
)


def _resource_id(account: str, region: str, identifier: str) -> str:
    """Stable per instance, shaped like AWS's (`db-` and 26 base32 characters)."""
    digest = hashlib.sha256(f"{account}/{region}/{identifier}".encode()).digest()
    return "db-" + base64.b32encode(digest).decode()[:26]


def _patch_rds() -> None:
    from moto.rds import models

    original = models.DBInstance.__init__

    def init(self: Any, backend: Any, *args: Any, **kwargs: Any) -> None:
        original(self, backend, *args, **kwargs)
        self.dbi_resource_id = _resource_id(
            self.account_id, self.region, self.db_instance_identifier
        )

    models.DBInstance.__init__ = init  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> None:
    from moto import server

    _patch_rds()
    server.main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
