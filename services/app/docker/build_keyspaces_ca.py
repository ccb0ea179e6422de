"""Assemble the CA bundle for TLS to Amazon Keyspaces from the OS trust store, checked.

Amazon Keyspaces endpoint certificates chain to the Amazon Trust Services roots (Amazon Root
CA 1-4; Starfield Services Root CA G2 cross-signs them). Debian's `ca-certificates` package
ships all five, so the image build copies them from there instead of downloading them, and
refuses to continue unless every file has the SHA-256 fingerprint Amazon publishes for it.

Usage: python build_keyspaces_ca.py [SOURCE_DIR] OUTPUT_PEM
"""

from __future__ import annotations

import hashlib
import ssl
import sys
from pathlib import Path

DEFAULT_SOURCE = Path("/usr/share/ca-certificates/mozilla")
# File name in Debian's ca-certificates -> SHA-256 fingerprint of the DER certificate, as
# published by Amazon Trust Services.
ROOTS = {
    "Amazon_Root_CA_1.crt": "8ECDE6884F3D87B1125BA31AC3FCB13D7016DE7F57CC904FE1CB97C6AE98196E",
    "Amazon_Root_CA_2.crt": "1BA5B2AA8C65401A82960118F80BEC4F62304D83CEC4713A19C39C011EA46DB4",
    "Amazon_Root_CA_3.crt": "18CE6CFE7BF14E60B2E347B8DFE868CB31D02EBB3ADA271569F50343B46DB3A4",
    "Amazon_Root_CA_4.crt": "E35D28419ED02025CFA69038CD623962458DA5C695FBDEA3C22B0BFB25897092",
    "Starfield_Services_Root_Certificate_Authority_-_G2.crt": (
        "568D6905A2C88708A4B3025190EDCFEDB1974A606A13C6E5290FCB2AE63EDAB5"
    ),
}


def build(source: Path) -> str:
    """The concatenated PEM bundle; raises ValueError on a missing file or a wrong certificate."""
    parts: list[str] = []
    for name, expected in ROOTS.items():
        path = source / name
        if not path.is_file():
            raise ValueError(f"{path} is missing (is the ca-certificates package installed?)")
        pem = path.read_text(encoding="ascii")
        actual = hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest().upper()
        if actual != expected:
            raise ValueError(f"{name}: SHA-256 fingerprint {actual}, expected {expected}")
        parts.append(pem.strip())
    return "\n".join(parts) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    source = Path(argv[1]) if len(argv) == 3 else DEFAULT_SOURCE
    output = Path(argv[-1])
    try:
        bundle = build(source)
    except ValueError as error:
        print(f"keyspaces CA bundle: {error}", file=sys.stderr)
        return 1
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(bundle, encoding="ascii")
    print(f"keyspaces CA bundle: {len(ROOTS)} verified roots -> {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
