"""Deterministic Lambda deployment packages: a function's code plus its locked dependencies, built
for the function's runtime (Python version, arm64 manylinux) as a zip whose bytes depend on the
inputs only: entries sorted, fixed timestamps and modes, no bytecode, no build paths.

    python -m toolchain.lambda_package [name ...]     # `make lambda-packages`; default: all

Each package is one entry of `PACKAGES` (a Lambda name -> its code folders and its lock). The
zip lands in `build/lambda/<name>.zip` next to `<name>.json` (what went in, the SHA-256 and
Lambda's `CodeSha256`). A build is skipped when the inputs (code, lock, spec, builder version)
are unchanged. Dependency wheels are fetched once, hash-checked against the lock (pip
`--require-hashes`, binary wheels only, for the runtime's platform), into
`build/lambda/wheels/`; later builds of changed code need no network.

The synth calls `ensure(name)`: it builds a missing or stale package (from the wheel cache, or
fetching what the cache lacks) or fails with one line naming the package, the reason and this
command.
"""

from __future__ import annotations

import argparse
import base64
import functools
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
BUILD_DIR = REPO_ROOT / "build" / "lambda"
# Bump when the zip layout changes: every package is rebuilt.
BUILDER_VERSION = "1"
# The earliest time a zip entry can carry (the DOS epoch): every entry gets it.
_EPOCH = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = 0o100644  # regular file, rw-r--r--: Lambda only reads the code
_SKIPPED = re.compile(r"(^|/)(__pycache__/|[^/]+\.py[co]$|\.DS_Store$)")
# glibc of the Lambda Python runtimes (Amazon Linux 2023) is 2.34: wheels for it or any older
# glibc fit. pip does not expand a given platform to the older tags itself, so all are named.
_GLIBC_MINORS = range(34, 16, -1)
_ARCH = {"arm64": "aarch64", "x86_64": "x86_64"}


class PackageError(Exception):
    """A package cannot be built; the message is one line naming the package and the fix."""


@dataclass(frozen=True)
class PackageSpec:
    """One Lambda function's deployment package."""

    name: str
    sources: tuple[tuple[str, str], ...]
    """(folder in the repository, folder in the zip) for each Python package of the code."""
    lock: str | None
    """Repository path of the requirements lock (pinned, with hashes); None: no dependencies."""
    python: str = "3.13"
    """The runtime's Python version (`python3.13`)."""
    architecture: str = "arm64"

    @property
    def runtime(self) -> str:
        return f"python{self.python}"


PACKAGES: dict[str, PackageSpec] = {
    spec.name: spec
    for spec in (
        PackageSpec(
            name="key_rotation",
            sources=(
                ("lambda/key_rotation/key_rotation", "key_rotation"),
                ("libs/signing_keys/signing_keys", "signing_keys"),
            ),
            lock="lambda/key_rotation/requirements.lock",
        ),
    )
}


@dataclass(frozen=True)
class BuiltPackage:
    """A built package: where the zip is and what identifies its bytes."""

    name: str
    path: Path
    sha256: str
    """Hex SHA-256 of the zip."""
    source_code_hash: str
    """Base64 SHA-256 of the zip: what Lambda reports as `CodeSha256` (and Terraform's
    `filebase64sha256`)."""
    files: int
    inputs: str
    """Digest of everything that went in: equal inputs give this same package."""


def _source_files(root: Path, spec: PackageSpec) -> Iterator[tuple[str, Path]]:
    """(path in the zip, file) of the code, sorted."""
    for folder, target in spec.sources:
        base = root / folder
        if not (base / "__init__.py").is_file():
            raise PackageError(
                f"lambda package {spec.name}: {folder} is not a Python package (no __init__.py)"
            )
        for path in sorted(base.rglob("*")):
            relative = path.relative_to(base).as_posix()
            if path.is_file() and not _SKIPPED.search(relative):
                yield f"{target}/{relative}", path


def input_digest(spec: PackageSpec, root: Path = REPO_ROOT) -> str:
    """SHA-256 over the spec, the builder version, the lock and every code file (name and
    bytes). Cheap enough to run on every synth."""
    digest = hashlib.sha256()
    digest.update(json.dumps([BUILDER_VERSION, asdict(spec)], sort_keys=True).encode())
    if spec.lock:
        lock = root / spec.lock
        if not lock.is_file():
            raise PackageError(f"lambda package {spec.name}: lock {spec.lock} not found")
        digest.update(b"lock\0" + lock.read_bytes())
    for name, path in _source_files(root, spec):
        digest.update(f"\0{name}\0{path.stat().st_size}\0".encode() + path.read_bytes())
    return digest.hexdigest()


def _pip_download(spec: PackageSpec, root: Path, dest: Path, *, offline: bool, cache: Path) -> bool:
    arch = _ARCH[spec.architecture]
    version = spec.python.replace(".", "")
    command = [
        sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
        "--no-deps", "--require-hashes", "--only-binary=:all:",
        *(arg for minor in _GLIBC_MINORS for arg in ("--platform", f"manylinux_2_{minor}_{arch}")),
        "--platform", f"manylinux2014_{arch}", "--python-version", spec.python,
        "--implementation", "cp", "--abi", f"cp{version}",
        "-r", str(root / spec.lock), "-d", str(dest),
    ]  # fmt: skip
    if offline:
        command += ["--no-index", "--find-links", str(cache)]
    env = {**os.environ, "PIP_NO_INPUT": "1"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)  # noqa: S603 - pip of this venv
    if result.returncode != 0 and not offline:
        last = (result.stderr.strip().splitlines() or ["pip failed"])[-1]
        raise PackageError(
            f"lambda package {spec.name}: cannot fetch the wheels of {spec.lock} for "
            f"{spec.runtime} {spec.architecture} ({last}); run `make lambda-packages` "
            "with access to the package index"
        )
    return result.returncode == 0


def _wheels(spec: PackageSpec, root: Path, workdir: Path, cache: Path) -> list[Path]:
    """The lock's wheels for the runtime, hash-checked, picked by pip from the cache (fetching
    into the cache first if it lacks any)."""
    if not spec.lock:
        return []
    cache.mkdir(parents=True, exist_ok=True)
    chosen = workdir / "wheels"
    if not _pip_download(spec, root, chosen, offline=True, cache=cache):
        _pip_download(spec, root, cache, offline=False, cache=cache)
        for leftover in chosen.glob("*"):
            leftover.unlink()
        if not _pip_download(spec, root, chosen, offline=True, cache=cache):
            raise PackageError(f"lambda package {spec.name}: the fetched wheels do not install")
    return sorted(chosen.glob("*.whl"))


def _wheel_entries(wheel: Path) -> Iterator[tuple[str, bytes]]:
    """A wheel installed into the package root: `.data/purelib|platlib` moved to the root,
    scripts, headers and data left out (a Lambda package has no prefix to put them in)."""
    with zipfile.ZipFile(wheel) as archive:
        for info in archive.infolist():
            name = info.filename
            if info.is_dir() or _SKIPPED.search(name):
                continue
            top, _, rest = name.partition("/")
            if top.endswith(".data"):
                kind, _, rest = rest.partition("/")
                if kind not in ("purelib", "platlib"):
                    continue
                name = rest
            yield name, archive.read(info)


def _entries(spec: PackageSpec, root: Path, wheels: Iterable[Path]) -> dict[str, bytes]:
    entries: dict[str, bytes] = {}
    origin: dict[str, str] = {}
    for wheel in wheels:
        for name, data in _wheel_entries(wheel):
            if name in entries and entries[name] != data:
                raise PackageError(
                    f"lambda package {spec.name}: {name} is in both {origin[name]} and {wheel.name}"
                )
            entries[name], origin[name] = data, wheel.name
    for name, path in _source_files(root, spec):
        if name in entries:
            raise PackageError(
                f"lambda package {spec.name}: {name} of the code is also in {origin[name]}"
            )
        entries[name] = path.read_bytes()
    return entries


def deterministic_zip(entries: dict[str, bytes]) -> bytes:
    """The zip of `entries`: sorted, one timestamp, one mode, fixed compression level."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so the mode below is read as one
            info.external_attr = _FILE_MODE << 16
            archive.writestr(info, entries[name], compresslevel=9)
    return buffer.getvalue()


def build(
    spec: PackageSpec,
    root: Path = REPO_ROOT,
    out_dir: Path = BUILD_DIR,
    *,
    force: bool = False,
) -> BuiltPackage:
    """Build `spec` into `out_dir/<name>.zip` unless an up-to-date one is there."""
    inputs = input_digest(spec, root)
    zip_path = out_dir / f"{spec.name}.zip"
    manifest_path = out_dir / f"{spec.name}.json"
    if not force and zip_path.is_file() and manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("inputs") == inputs:
            data = zip_path.read_bytes()
            if hashlib.sha256(data).hexdigest() == manifest.get("sha256"):
                return _built(spec, zip_path, data, manifest["files"], inputs)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"lambda-{spec.name}-") as workdir:
        entries = _entries(spec, root, _wheels(spec, root, Path(workdir), out_dir / "wheels"))
    data = deterministic_zip(entries)
    built = _built(spec, zip_path, data, len(entries), inputs)
    temporary = zip_path.with_suffix(".zip.tmp")
    temporary.write_bytes(data)
    temporary.replace(zip_path)
    manifest_path.write_text(
        json.dumps(
            {
                "name": spec.name,
                "inputs": inputs,
                "sha256": built.sha256,
                "source_code_hash": built.source_code_hash,
                "files": built.files,
                "runtime": spec.runtime,
                "architecture": spec.architecture,
                # Deflate output is fixed for one zlib: the same inputs and zlib give the same
                # bytes (recorded so a difference between machines can be told apart).
                "zlib": zlib.ZLIB_RUNTIME_VERSION,
            },
            indent=1,
            sort_keys=True,
        )
        + "\n"
    )
    return built


def _built(spec: PackageSpec, path: Path, data: bytes, files: int, inputs: str) -> BuiltPackage:
    digest = hashlib.sha256(data)
    return BuiltPackage(
        name=spec.name,
        path=path,
        sha256=digest.hexdigest(),
        source_code_hash=base64.b64encode(digest.digest()).decode("ascii"),
        files=files,
        inputs=inputs,
    )


@functools.cache
def ensure(name: str) -> BuiltPackage:
    """The package of the Lambda `name`, built now if missing or stale (for the synth). Once per
    process: every environment stack uses the same package, and checking it reads and hashes
    the whole zip."""
    try:
        spec = PACKAGES[name]
    except KeyError:
        raise PackageError(
            f"lambda package {name}: unknown (known: {', '.join(sorted(PACKAGES))})"
        ) from None
    return build(spec)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help=f"default: all ({', '.join(sorted(PACKAGES))})")
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    args = parser.parse_args(argv)
    try:
        for name in args.names or sorted(PACKAGES):
            if name not in PACKAGES:
                ensure(name)  # raises the one-line error
            built = build(PACKAGES[name], force=args.force)
            size = built.path.stat().st_size / 2**20
            print(
                f"{name}: {built.path.relative_to(REPO_ROOT)} ({built.files} files, "
                f"{size:.1f} MiB) sha256 {built.sha256}"
            )
    except PackageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
