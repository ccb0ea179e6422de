"""Finds secret material in synthesized Terraform JSON or in Terraform state: private keys
(PEM, or JWKs with a private member), AWS access keys, and password-like attributes holding a
literal value.

    python -m devtools.secret_scan cdktf.out        # exit 1 and one line per finding

The platform keeps every secret out of both: RDS manages its master password in Secrets
Manager, the JWT signing keys are written only by their rotation function, and nothing else is
secret. A finding is therefore a defect, not a warning.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_PEM_PRIVATE = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )?PRIVATE KEY-----")
# Long-term (AKIA) and temporary (ASIA) access key ids.
_ACCESS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")
# Attribute names whose value is a secret when it is a literal (not null, not a reference).
_SECRET_NAMES = re.compile(
    r"(^|_)(password|passwd|secret_string|secret_binary|secret_access_key|private_key|"
    r"auth_token|client_secret|api_key|token)(_wo)?$"
)
# Names that match the pattern above but hold no secret.
_NOT_SECRET = frozenset(
    {
        "manage_master_user_password",  # a switch
        # WAFv2's optimistic-locking token (aws_wafv2_web_acl, _ip_set): a version stamp that
        # changes on every update and grants nothing.
        "lock_token",
        "password_wo_version",
        "secret_string_wo_version",
    }
)
# JWK members that only a private key has (RFC 7518 section 6).
_JWK_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi"})


@dataclass(frozen=True)
class Finding:
    where: str
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.path}: {self.reason}"


def _is_reference(value: str) -> bool:
    return value.startswith("${") and value.endswith("}")


def _nodes(node: Any, path: str, key: str = "") -> Iterator[tuple[str, str, Any]]:
    """(path, key, node) of every node, containers included, descending into JSON documents
    held in strings (IAM policies, container definitions and state attributes are JSON inside
    JSON)."""
    yield path, key, node
    if isinstance(node, str) and node[:1] in "{[":
        try:
            inner = json.loads(node)
        except ValueError:
            return
        yield from _nodes(inner, f"{path}<json>", key)
    elif isinstance(node, dict):
        for name, value in node.items():
            yield from _nodes(value, f"{path}.{name}" if path else str(name), str(name))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _nodes(value, f"{path}[{index}]", key)


def _looks_like_private_jwk(node: Any) -> bool:
    return (
        isinstance(node, dict)
        and isinstance(node.get("kty"), str)
        and bool(_JWK_PRIVATE_MEMBERS & node.keys())
    )


def scan_document(doc: Any, where: str) -> list[Finding]:
    """Every finding in one parsed JSON document (a `cdk.tf.json` or a state file)."""
    findings: list[Finding] = []
    for path, key, value in _nodes(doc, ""):
        if _looks_like_private_jwk(value):
            findings.append(Finding(where, path, "private JWK"))
        if not isinstance(value, str) or not value:
            continue
        if _PEM_PRIVATE.search(value):
            findings.append(Finding(where, path, "PEM private key"))
        if _ACCESS_KEY_ID.search(value):
            findings.append(Finding(where, path, "AWS access key id"))
        if (
            _SECRET_NAMES.search(key.lower())
            and key.lower() not in _NOT_SECRET
            and not _is_reference(value)
        ):
            findings.append(Finding(where, path, f"literal value in secret attribute {key!r}"))
    return findings


def scan_files(paths: Iterable[Path]) -> list[Finding]:
    """Every `.json` file is parsed and scanned; any other text file is searched for private
    keys and access key ids."""
    findings: list[Finding] = []
    for path in sorted(paths):
        text = path.read_text(errors="replace")
        if path.suffix in {".json", ".tfstate"}:
            findings.extend(scan_document(json.loads(text), str(path)))
            continue
        if _PEM_PRIVATE.search(text):
            findings.append(Finding(str(path), "-", "PEM private key"))
        if _ACCESS_KEY_ID.search(text):
            findings.append(Finding(str(path), "-", "AWS access key id"))
    return findings


def scan_tree(root: Path) -> list[Finding]:
    return scan_files(p for p in root.rglob("*") if p.is_file() and p.suffix != ".zip")


def main(argv: list[str] | None = None) -> int:
    root = Path((argv or sys.argv[1:] or ["cdktf.out"])[0])
    findings = scan_tree(root)
    for finding in findings:
        print(finding)
    print(f"secret scan of {root}: {len(findings)} findings")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
