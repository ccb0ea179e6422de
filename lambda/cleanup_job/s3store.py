"""Archive objects in S3: upload with SSE-KMS and SHA-256 checksums, verify, manifests."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import json
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from cleanup_job import keys
from cleanup_job.config import CleanupSettings
from cleanup_job.spool import ArchiveDigest, PartitionSpool

FORMAT = "checkins-jsonl-gzip/1"
MANIFEST_FORMAT = "checkins-archive-manifest/1"
_READ_CHUNK = 1024 * 1024


class VerificationFailed(RuntimeError):
    """The stored object is not exactly what was written; nothing may be deleted."""


def make_s3_client(settings: CleanupSettings) -> Any:
    """S3 client honouring the configured endpoint; adaptive retries absorb SlowDown/503s."""
    config = Config(
        retries={"mode": "adaptive", "max_attempts": 8},
        # Checksums are given explicitly (SHA-256); no extra CRC the verifier would not expect.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        region_name=settings.s3_region,
        config=config,
    )


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def _b64_of_hex(hex_digest: str) -> str:
    return _b64(bytes.fromhex(hex_digest))


def _same_checksum(got: str, expected: str) -> bool:
    """Multipart objects report ``<base64>-<parts>``; some S3 implementations omit the suffix."""
    got_value, _, got_parts = got.partition("-")
    want_value, _, want_parts = expected.partition("-")
    return got_value == want_value and (not got_parts or got_parts == want_parts)


@dataclass(frozen=True)
class StoredObject:
    key: str
    checksum_sha256: str
    """The value S3 reports with ChecksumMode=ENABLED (composite ``...-N`` for multipart)."""


@dataclass(frozen=True)
class ManifestEntry:
    key: str
    device_id: str
    size: int
    etag: str


def _metadata(digest: ArchiveDigest, day: dt.date, device_id: str) -> dict[str, str]:
    return {
        "format": FORMAT,
        "rows": str(digest.rows),
        "sha256": digest.sha256,
        "content-sha256": digest.content_sha256,
        "day": day.isoformat(),
        "device-id": device_id,
    }


class ArchiveStore:
    """One bucket, one prefix layout, one KMS key."""

    def __init__(self, client: Any, settings: CleanupSettings) -> None:
        self._s3 = client
        self._bucket = settings.archive_bucket
        self._settings = settings

    def _sse(self) -> dict[str, Any]:
        args: dict[str, Any] = {"ServerSideEncryption": "aws:kms", "BucketKeyEnabled": True}
        if self._settings.kms_key_id:
            args["SSEKMSKeyId"] = self._settings.kms_key_id
        return args

    # -- upload ------------------------------------------------------------------------------

    def upload(
        self,
        key: str,
        spool: PartitionSpool,
        day: dt.date,
        device_id: str,
        on_part: Callable[[int], None] | None = None,
    ) -> StoredObject:
        digest = spool.digest
        assert digest is not None, "spool not finished"
        common = {
            "Bucket": self._bucket,
            "Key": key,
            "ContentType": "application/x-ndjson",
            # Not Content-Encoding: clients would inflate it on download and break the checksum.
            "Metadata": _metadata(digest, day, device_id),
            **self._sse(),
        }
        part_size = self._settings.part_size
        if digest.size <= part_size:
            checksum = _b64_of_hex(digest.sha256)
            self._s3.put_object(
                Body=spool.read_all(), ChecksumAlgorithm="SHA256", ChecksumSHA256=checksum, **common
            )
            return StoredObject(key, checksum)
        # A run killed mid-upload leaves an incomplete upload of this very key: drop it.
        self._abort_stale_uploads(key)
        upload_id = self._s3.create_multipart_upload(ChecksumAlgorithm="SHA256", **common)[
            "UploadId"
        ]
        try:
            parts: list[dict[str, Any]] = []
            part_digests = hashlib.sha256()
            for number, chunk in enumerate(spool.parts(part_size), start=1):
                part_sha = hashlib.sha256(chunk).digest()
                part_digests.update(part_sha)
                response = self._s3.upload_part(
                    Bucket=self._bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=chunk,
                    ChecksumAlgorithm="SHA256",
                    ChecksumSHA256=_b64(part_sha),
                )
                parts.append(
                    {
                        "PartNumber": number,
                        "ETag": response["ETag"],
                        "ChecksumSHA256": _b64(part_sha),
                    }
                )
                if on_part is not None:
                    on_part(number)
            self._s3.complete_multipart_upload(
                Bucket=self._bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except Exception:
            # An incomplete upload is invisible but billed; the bucket's lifecycle rule is the
            # backstop when the process dies before reaching this line.
            self._abort_quietly(key, upload_id)
            raise
        return StoredObject(key, f"{_b64(part_digests.digest())}-{len(parts)}")

    def _abort_stale_uploads(self, key: str) -> None:
        listed = self._s3.list_multipart_uploads(Bucket=self._bucket, Prefix=key)
        for upload in listed.get("Uploads", []):
            if upload["Key"] == key:
                self._abort_quietly(key, upload["UploadId"])

    def _abort_quietly(self, key: str, upload_id: str) -> None:
        with contextlib.suppress(ClientError):
            self._s3.abort_multipart_upload(Bucket=self._bucket, Key=key, UploadId=upload_id)

    # -- verify ------------------------------------------------------------------------------

    def head(self, key: str) -> dict[str, Any] | None:
        try:
            return self._s3.head_object(Bucket=self._bucket, Key=key, ChecksumMode="ENABLED")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise

    def expected_checksum(self, spool: PartitionSpool) -> str:
        """The ChecksumSHA256 S3 reports for this spool uploaded the way :meth:`upload` does."""
        digest = spool.digest
        assert digest is not None, "spool not finished"
        if digest.size <= self._settings.part_size:
            return _b64_of_hex(digest.sha256)
        part_digests = hashlib.sha256()
        count = 0
        for chunk in spool.parts(self._settings.part_size):
            part_digests.update(hashlib.sha256(chunk).digest())
            count += 1
        return f"{_b64(part_digests.digest())}-{count}"

    def already_stored(self, key: str, digest: ArchiveDigest, checksum: str) -> bool:
        """True when an earlier run already stored exactly these bytes under this key."""
        head = self.head(key)
        if head is None:
            return False
        try:
            self._check_head(key, head, digest, checksum)
        except VerificationFailed:
            return False
        return True

    def verify(self, key: str, digest: ArchiveDigest, checksum: str) -> None:
        """HEAD (size, checksum, metadata, encryption), then optionally a full read-back."""
        head = self.head(key)
        if head is None:
            raise VerificationFailed(f"{key}: object not found after upload")
        self._check_head(key, head, digest, checksum)
        if self._settings.verify_reread:
            self._check_content(key, digest)

    def _check_head(
        self, key: str, head: dict[str, Any], digest: ArchiveDigest, checksum: str
    ) -> None:
        meta = head.get("Metadata", {})
        problems = []
        if head.get("ContentLength") != digest.size:
            problems.append(f"size {head.get('ContentLength')} != {digest.size}")
        for name, want in (
            ("rows", str(digest.rows)),
            ("sha256", digest.sha256),
            ("content-sha256", digest.content_sha256),
        ):
            if meta.get(name) != want:
                problems.append(f"metadata {name} {meta.get(name)!r} != {want!r}")
        got_checksum = head.get("ChecksumSHA256")
        if not got_checksum:
            problems.append("no SHA-256 checksum stored")
        elif not _same_checksum(got_checksum, checksum):
            problems.append(f"checksum {got_checksum} != {checksum}")
        if head.get("ServerSideEncryption") != "aws:kms":
            problems.append(f"encryption {head.get('ServerSideEncryption')!r} != 'aws:kms'")
        kms = self._settings.kms_key_id
        if kms and not kms.startswith("alias/") and kms not in head.get("SSEKMSKeyId", ""):
            problems.append(f"KMS key {head.get('SSEKMSKeyId')!r} is not {kms!r}")
        if problems:
            raise VerificationFailed(f"{key}: " + "; ".join(problems))

    def _check_content(self, key: str, digest: ArchiveDigest) -> None:
        """Stream the object back: compressed hash, uncompressed hash, line count."""
        body = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"]
        compressed = hashlib.sha256()
        content = hashlib.sha256()
        inflater = zlib.decompressobj(wbits=31)  # gzip framing
        lines = 0
        for chunk in body.iter_chunks(_READ_CHUNK):
            compressed.update(chunk)
            data = inflater.decompress(chunk)
            content.update(data)
            lines += data.count(b"\n")
        tail = inflater.flush()
        content.update(tail)
        lines += tail.count(b"\n")
        if not inflater.eof:
            raise VerificationFailed(f"{key}: truncated gzip stream")
        if compressed.hexdigest() != digest.sha256:
            raise VerificationFailed(f"{key}: read-back SHA-256 differs")
        if content.hexdigest() != digest.content_sha256 or lines != digest.rows:
            raise VerificationFailed(f"{key}: read-back content differs ({lines} rows)")

    # -- manifests and restore ---------------------------------------------------------------

    def list_day(self, day: dt.date) -> Iterator[ManifestEntry]:
        prefix = keys.day_prefix(self._settings.archive_prefix, day)
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                parsed = keys.parse_object_key(item["Key"])
                if parsed is None:
                    continue
                yield ManifestEntry(
                    key=item["Key"],
                    device_id=str(parsed[1]),
                    size=item["Size"],
                    etag=item["ETag"].strip('"'),
                )

    def write_manifest(self, day: dt.date) -> tuple[str, int, int]:
        """Record every archive object of a finished day; same objects -> same bytes."""
        entries = [entry.__dict__ for entry in self.list_day(day)]
        body = {
            "format": MANIFEST_FORMAT,
            "day": day.isoformat(),
            "bucket": self._bucket,
            "object_count": len(entries),
            "bytes": sum(entry["size"] for entry in entries),
            "objects": entries,
        }
        data = json.dumps(body, sort_keys=True, indent=1).encode("utf-8") + b"\n"
        key = keys.manifest_key(self._settings.manifest_prefix, day)
        self._s3.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=data,
            ContentType="application/json",
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=_b64(hashlib.sha256(data).digest()),
            **self._sse(),
        )
        return key, len(entries), body["bytes"]

    def read_manifest(self, day: dt.date) -> dict[str, Any] | None:
        key = keys.manifest_key(self._settings.manifest_prefix, day)
        try:
            body = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey"}:
                return None
            raise
        return json.loads(body)

    def open_object(self, key: str) -> Any:
        return self._s3.get_object(Bucket=self._bucket, Key=key)
