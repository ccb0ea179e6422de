"""The archive object of one partition, built on local disk before it goes to S3.

Rows are gzip-compressed into a temporary file while two SHA-256 digests are kept: one of the
uncompressed JSON Lines (it names the object, so the key does not depend on the zlib build) and
one of the compressed bytes (the object's checksum). Memory holds one page of rows at a time,
however large the partition; the disk holds the compressed partition (a device-day of
check-ins is kilobytes to a few MB; Lambda's /tmp is 512 MB by default).
"""

from __future__ import annotations

import gzip
import hashlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

# Fixed compression settings: part of the "same rows -> same bytes" contract.
GZIP_LEVEL = 6


@dataclass(frozen=True)
class ArchiveDigest:
    """What identifies and verifies one archive object."""

    rows: int
    size: int
    sha256: str
    """Hex SHA-256 of the compressed object bytes."""
    content_sha256: str
    """Hex SHA-256 of the uncompressed JSON Lines; the object key is derived from it."""


class _HashingSink:
    """File-like sink for GzipFile: hashes and counts the compressed bytes on their way out."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        self.size += len(data)
        return self._file.write(data)

    def flush(self) -> None:
        self._file.flush()


class PartitionSpool:
    """Context manager: ``write`` encoded pages, ``finish`` once, then read parts back."""

    def __init__(self, spool_dir: str | None = None) -> None:
        self._file: BinaryIO = tempfile.TemporaryFile(dir=spool_dir)  # noqa: SIM115 - closed in __exit__
        self._sink = _HashingSink(self._file)
        # filename="" and mtime=0 keep the gzip header free of names and clocks.
        self._gzip = gzip.GzipFile(
            filename="", mode="wb", fileobj=self._sink, compresslevel=GZIP_LEVEL, mtime=0
        )
        self._content = hashlib.sha256()
        self._rows = 0
        self.digest: ArchiveDigest | None = None

    def __enter__(self) -> PartitionSpool:
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()

    def write(self, data: bytes, rows: int) -> None:
        self._content.update(data)
        self._gzip.write(data)
        self._rows += rows

    def finish(self) -> ArchiveDigest:
        self._gzip.close()
        self._file.flush()
        self.digest = ArchiveDigest(
            rows=self._rows,
            size=self._sink.size,
            sha256=self._sink.sha256.hexdigest(),
            content_sha256=self._content.hexdigest(),
        )
        return self.digest

    def read_all(self) -> bytes:
        """The whole object; only used for objects no larger than one part."""
        self._file.seek(0)
        return self._file.read()

    def parts(self, part_size: int) -> Iterator[bytes]:
        """The object in ``part_size`` chunks (only one chunk in memory at a time)."""
        self._file.seek(0)
        while chunk := self._file.read(part_size):
            yield chunk
