"""Lambda deployment packages are deterministic: the same code and lock give the same bytes (and
the same `source_code_hash`), whatever the files' timestamps and modes; a change to either gives
a new package. Built offline here: the one wheel is a local file, hash-checked against its lock."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import zipfile
from pathlib import Path

import pytest

from toolchain.lambda_package import PackageError, PackageSpec, build


def _wheel(folder: Path) -> Path:
    """A minimal pure-Python wheel `demo-1.0`, with a `.data/purelib` file and a script."""
    path = folder / "demo-1.0-py3-none-any.whl"
    files = {
        "demo/__init__.py": b"VALUE = 1\n",
        "demo-1.0.data/purelib/demo_extra.py": b"EXTRA = 2\n",
        "demo-1.0.data/scripts/demo-cli": b"#!python\n",
        "demo-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n",
        "demo-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{name},,\n" for name in files) + "demo-1.0.dist-info/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in {**files, "demo-1.0.dist-info/RECORD": record.encode()}.items():
            archive.writestr(name, data)
    return path


@pytest.fixture
def repo(tmp_path):
    """A repository with one function package, one shared library and a lock of one wheel
    already in the wheel cache."""
    root = tmp_path / "repo"
    (root / "fn" / "fn_pkg" / "sub").mkdir(parents=True)
    (root / "lib" / "shared").mkdir(parents=True)
    (root / "fn" / "fn_pkg" / "__init__.py").write_text("")
    (root / "fn" / "fn_pkg" / "handler.py").write_text(
        "def handler(event, context):\n    return 1\n"
    )
    (root / "fn" / "fn_pkg" / "sub" / "data.json").write_text("{}\n")
    (root / "fn" / "fn_pkg" / "__pycache__").mkdir()
    (root / "fn" / "fn_pkg" / "__pycache__" / "handler.cpython-313.pyc").write_bytes(b"junk")
    (root / "lib" / "shared" / "__init__.py").write_text("X = 1\n")
    cache = tmp_path / "out" / "wheels"
    cache.mkdir(parents=True)
    wheel = _wheel(cache)
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    (root / "requirements.lock").write_text(f"demo==1.0 \\\n    --hash=sha256:{digest}\n")
    return root


SPEC = PackageSpec(
    name="fn",
    sources=(("fn/fn_pkg", "fn_pkg"), ("lib/shared", "shared")),
    lock="requirements.lock",
)


def test_package_holds_the_code_the_library_and_the_installed_wheel_only(repo, tmp_path):
    built = build(SPEC, repo, tmp_path / "out")
    names = zipfile.ZipFile(built.path).namelist()

    assert names == sorted(names)
    assert names == [
        "demo-1.0.dist-info/METADATA",
        "demo-1.0.dist-info/RECORD",
        "demo-1.0.dist-info/WHEEL",
        "demo/__init__.py",
        "demo_extra.py",
        "fn_pkg/__init__.py",
        "fn_pkg/handler.py",
        "fn_pkg/sub/data.json",
        "shared/__init__.py",
    ]
    assert built.files == len(names)


def test_entries_carry_one_timestamp_and_one_mode(repo, tmp_path):
    built = build(SPEC, repo, tmp_path / "out")
    infos = zipfile.ZipFile(built.path).infolist()
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.external_attr >> 16 for i in infos} == {0o100644}


def test_same_inputs_give_the_same_bytes_whatever_the_files_metadata(repo, tmp_path):
    first = build(SPEC, repo, tmp_path / "out")
    # Same content, other timestamps and modes (a fresh checkout): same package.
    handler = repo / "fn" / "fn_pkg" / "handler.py"
    os.utime(handler, (1_000_000_000, 1_000_000_000))
    handler.chmod(0o755)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "wheels").symlink_to(tmp_path / "out" / "wheels")
    second = build(SPEC, repo, tmp_path / "b")

    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.source_code_hash == second.source_code_hash
    assert (
        first.source_code_hash
        == base64.b64encode(hashlib.sha256(first.path.read_bytes()).digest()).decode()
    )


def test_an_up_to_date_package_is_not_rebuilt_and_a_change_rebuilds_it(repo, tmp_path):
    out = tmp_path / "out"
    first = build(SPEC, repo, out)
    mtime = first.path.stat().st_mtime_ns
    again = build(SPEC, repo, out)
    assert again.path.stat().st_mtime_ns == mtime and again.sha256 == first.sha256

    (repo / "fn" / "fn_pkg" / "handler.py").write_text(
        "def handler(event, context):\n    return 2\n"
    )
    changed = build(SPEC, repo, out)
    assert changed.sha256 != first.sha256 and changed.inputs != first.inputs
    handler = zipfile.ZipFile(io.BytesIO(changed.path.read_bytes())).read("fn_pkg/handler.py")
    assert b"return 2" in handler


def test_a_renamed_file_is_a_new_package(repo, tmp_path):
    first = build(SPEC, repo, tmp_path / "out")
    (repo / "fn" / "fn_pkg" / "sub" / "data.json").rename(
        repo / "fn" / "fn_pkg" / "sub" / "other.json"
    )
    assert build(SPEC, repo, tmp_path / "out").sha256 != first.sha256


def test_missing_code_fails_with_one_line_naming_the_package(repo, tmp_path):
    spec = PackageSpec(name="gone", sources=(("nowhere/pkg", "pkg"),), lock=None)
    with pytest.raises(PackageError, match=r"^lambda package gone: nowhere/pkg is not a Python package") as info:  # fmt: skip
        build(spec, repo, tmp_path / "out")
    assert "\n" not in str(info.value)


def test_a_wheel_whose_hash_is_not_in_the_lock_is_refused(repo, tmp_path):
    (repo / "requirements.lock").write_text("demo==1.0 \\\n    --hash=sha256:" + "0" * 64 + "\n")
    with pytest.raises(PackageError, match=r"^lambda package fn: "):
        # Offline the cached wheel does not match; the index is not reachable from the test
        # (PIP_INDEX_URL points nowhere), so the fetch fails with the command to run.
        os.environ["PIP_INDEX_URL"] = "http://127.0.0.1:9/simple"
        try:
            build(SPEC, repo, tmp_path / "out")
        finally:
            del os.environ["PIP_INDEX_URL"]
