"""What the rotation function's deployment package and the auth image are built from."""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("lambda/key_rotation/key_rotation", "libs/signing_keys/signing_keys")
LOCAL = {"key_rotation", "signing_keys"}


def _pins(text: str) -> dict[str, str]:
    found = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s\\]+)", text, re.M)
    return {name.lower().replace("_", "-"): version for name, version in found}


def _third_party_imports(package: str) -> set[str]:
    tops = set()
    for source in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                tops |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                tops.add(node.module.split(".")[0])
    return {t for t in tops if t not in LOCAL and t not in sys.stdlib_module_names}


def test_the_lambda_lock_pins_with_hashes_what_the_tests_ran_and_names_no_host():
    lock = (ROOT / "lambda/key_rotation/requirements.lock").read_text()
    assert "://" not in lock
    pinned = _pins(lock)
    assert lock.count("--hash=sha256:") >= len(pinned) > 3
    repo = _pins((ROOT / "requirements.lock").read_text())
    assert {n: v for n, v in pinned.items() if repo.get(n) != v} == {}


def test_the_lambda_lock_covers_every_import_of_the_package():
    lock = set(_pins((ROOT / "lambda/key_rotation/requirements.lock").read_text()))
    dists = packages_distributions()
    missing = {
        top
        for package in PACKAGES
        for top in _third_party_imports(package)
        if not {d.lower().replace("_", "-") for d in dists.get(top, [])} & lock
    }
    assert missing == set()


def test_the_auth_image_carries_the_key_set_format_and_boto3():
    dockerfile = (ROOT / "services/auth/Dockerfile").read_text()
    assert "COPY libs/signing_keys/signing_keys /opt/app/signing_keys" in dockerfile
    ignore = (ROOT / "services/auth/Dockerfile.dockerignore").read_text().splitlines()
    assert "!libs/signing_keys/signing_keys" in ignore
    assert "boto3" in _pins((ROOT / "services/auth/requirements.lock").read_text())
