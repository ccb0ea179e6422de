"""What the container image is built from, checked without Docker (no engine here)."""

from __future__ import annotations

import ast
import re
import ssl
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "services" / "app"
DOCKERFILE = (APP / "Dockerfile").read_text()
LOCK = (APP / "requirements.lock").read_text()
sys.path.insert(0, str(APP / "docker"))
import build_keyspaces_ca  # noqa: E402

TRUST_STORE = build_keyspaces_ca.DEFAULT_SOURCE


def _lock_names() -> set[str]:
    return {
        re.split(r"[=\[]", line, maxsplit=1)[0].lower().replace("_", "-")
        for line in LOCK.splitlines()
        if re.match(r"^[A-Za-z0-9]", line)
    }


def test_lock_pins_every_package_with_hashes_and_names_no_host():
    entries = re.findall(r"^([A-Za-z0-9][^\s]*==[^\s]+) \\\n((?:\s+--hash=sha256:[0-9a-f]{64}.*\n)+)",
                         LOCK, flags=re.M)  # fmt: skip
    pinned = [line for line in LOCK.splitlines() if re.match(r"^[A-Za-z0-9]", line)]
    assert len(entries) == len(pinned) > 10
    assert "://" not in LOCK


def test_lock_covers_every_third_party_import_of_the_image_code():
    dists = packages_distributions()
    lock = _lock_names()
    local = {"checkins_app", "checkins_data", "service_kit"}
    packages = (
        "services/app/checkins_app",
        "libs/checkins_data/checkins_data",
        "libs/service_kit/service_kit",
    )
    missing = set()
    for package in packages:
        for source in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(source.read_text())):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                for name in names:
                    top = name.split(".")[0]
                    if top in local or top in sys.stdlib_module_names:
                        continue
                    provided = {d.lower().replace("_", "-") for d in dists.get(top, [])}
                    if not provided & lock:
                        missing.add(f"{top} ({source.name})")
    assert not missing, f"imported but not in services/app/requirements.lock: {sorted(missing)}"


def test_image_runs_as_non_root_with_a_healthcheck_and_the_module_entrypoint():
    assert re.search(r"^USER 10001:10001$", DOCKERFILE, flags=re.M)
    assert "HEALTHCHECK" in DOCKERFILE and "/health" in DOCKERFILE
    assert 'ENTRYPOINT ["python", "-m", "checkins_app"]' in DOCKERFILE
    assert (APP / "checkins_app" / "__main__.py").is_file()
    assert "--require-hashes" in DOCKERFILE
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11\.\d+-slim-bookworm", DOCKERFILE, re.M)


def test_every_copied_path_exists_and_is_in_the_build_context():
    ignore = (APP / "Dockerfile.dockerignore").read_text().splitlines()
    allowed = [line[1:] for line in ignore if line.startswith("!")]
    sources = re.findall(r"^COPY (?!--from)(\S+) ", DOCKERFILE, flags=re.M)
    assert len(sources) >= 5
    # Every package the app imports at run time is copied in.
    assert {"libs/checkins_data/checkins_data", "libs/service_kit/service_kit"} <= set(sources)
    for source in sources:
        assert (ROOT / source).exists(), source
        assert any(source == a or source.startswith(a + "/") for a in allowed), source


@pytest.mark.skipif(not TRUST_STORE.is_dir(), reason=f"no {TRUST_STORE} on this machine")
def test_keyspaces_bundle_holds_the_five_verified_amazon_roots(tmp_path):
    bundle = build_keyspaces_ca.build(TRUST_STORE)
    assert bundle.count("BEGIN CERTIFICATE") == 5
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cadata=bundle)
    names = {dict(x[0] for x in c["subject"])["organizationName"] for c in context.get_ca_certs()}
    assert names == {"Amazon", "Starfield Technologies, Inc."}


@pytest.mark.skipif(not TRUST_STORE.is_dir(), reason=f"no {TRUST_STORE} on this machine")
def test_keyspaces_bundle_refuses_a_substituted_certificate(tmp_path):
    for name in build_keyspaces_ca.ROOTS:
        (tmp_path / name).write_text((TRUST_STORE / name).read_text())
    other = sorted(p for p in TRUST_STORE.glob("*.crt") if p.name not in build_keyspaces_ca.ROOTS)
    (tmp_path / "Amazon_Root_CA_3.crt").write_text(other[0].read_text())
    with pytest.raises(ValueError, match="Amazon_Root_CA_3"):
        build_keyspaces_ca.build(tmp_path)


def test_image_lock_pins_the_versions_the_tests_ran_with():
    def pins(text: str) -> dict[str, str]:
        found = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s\\]+)", text, re.M)
        return {name.lower().replace("_", "-"): version for name, version in found}

    image, repo = pins(LOCK), pins((ROOT / "requirements.lock").read_text())
    drift = {n: (v, repo[n]) for n, v in image.items() if n in repo and repo[n] != v}
    assert not drift, f"re-pin services/app/requirements.lock (image, repository): {drift}"
    assert set(image) - set(repo) == set(), "the image installs packages the tests never saw"
