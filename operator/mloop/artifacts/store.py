"""``ArtifactStore``: write-once, checksummed objects in any S3 endpoint (AWS, MinIO, moto).

Synchronous on purpose (minio is): the operator calls it through ``asyncio.to_thread``; workload programs
call it directly. Every method validates its URI first, retries transient failures with the store's
``RetryPolicy`` and raises only ``ArtifactError`` subclasses (plus ``OSError`` for local file problems).
"""

from __future__ import annotations

import builtins
import functools
import hashlib
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from mloop.artifacts.digests import (
    SHA256_METADATA,
    check_unchanged,
    normalise_expected,
    stored_sha,
    verify_digest,
)
from mloop.artifacts.errors import ArtifactError, BucketNotFound, ObjectExists, ObjectNotFound
from mloop.artifacts.retry import RetryPolicy
from mloop.artifacts.transport import Wire, make_client, split_endpoint, translating
from mloop.artifacts.uri import S3Uri, format_uri, parse_prefix_uri, parse_uri

__all__ = ["DEFAULT_PART_SIZE", "ArtifactStore", "ObjectInfo"]

T = TypeVar("T")
DEFAULT_PART_SIZE = 64 * 1024 * 1024
MIN_PART_SIZE = 5 * 1024 * 1024  # S3's minimum for every part but the last
MAX_PART_SIZE = 5 * 1024 * 1024 * 1024
CHUNK = 1024 * 1024
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """What the store knows about one object. ``sha256`` is None when the object carries no digest
    (written by another tool) or when it comes from ``list``, which does not fetch per-object metadata."""

    uri: str
    sha256: str | None
    size: int


class ArtifactStore:
    """The S3 gateway: the only code outside tests that talks to object storage."""

    def __init__(
        self,
        endpoint: str,
        access_key: str | None,
        secret_key: str | None,
        *,
        secure: bool = False,
        region: str | None = None,
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen, shared safely
        part_size: int = DEFAULT_PART_SIZE,
    ) -> None:
        host, secure = split_endpoint(endpoint, secure)
        if (access_key is None) != (secret_key is None):
            raise ValueError("give both an access key and a secret key, or neither (anonymous access)")
        if not MIN_PART_SIZE <= part_size <= MAX_PART_SIZE:
            raise ValueError(f"part_size must be between {MIN_PART_SIZE} and {MAX_PART_SIZE} bytes")
        self.endpoint = host
        self.secure = secure
        self.retry = retry
        self.part_size = part_size
        self._wire = Wire(make_client(host, access_key, secret_key, secure=secure, region=region))
        self._client = self._wire.client

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008
    ) -> ArtifactStore:
        """Build from ``MLOOP_S3_*`` variables (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` as fallbacks),
        which is how Jobs and the server receive Secret-referenced credentials."""
        env = os.environ if environ is None else environ
        endpoint = env.get("MLOOP_S3_ENDPOINT", "").strip()
        if not endpoint:
            raise ValueError("MLOOP_S3_ENDPOINT is not set (host:port or http(s)://host:port)")
        secure_text = env.get("MLOOP_S3_SECURE", "").strip().lower()
        if secure_text not in _TRUE | _FALSE:
            raise ValueError(f"MLOOP_S3_SECURE must be true or false, got {secure_text!r}")
        return cls(
            endpoint,
            env.get("MLOOP_S3_ACCESS_KEY") or env.get("AWS_ACCESS_KEY_ID") or None,
            env.get("MLOOP_S3_SECRET_KEY") or env.get("AWS_SECRET_ACCESS_KEY") or None,
            secure=secure_text in _TRUE,
            region=env.get("MLOOP_S3_REGION") or None,
            retry=retry,
        )

    def __repr__(self) -> str:
        scheme = "https" if self.secure else "http"
        return f"ArtifactStore({scheme}://{self.endpoint})"

    # -- reading ------------------------------------------------------------------------------------------

    def check_bucket(self, bucket: str) -> None:
        """Raise ``BucketNotFound``/``AccessDenied``/``StorageUnavailable`` unless the bucket is usable."""
        uri = str(parse_prefix_uri(f"s3://{bucket}"))
        if not self._run("check bucket", uri, lambda: bool(self._client.bucket_exists(bucket))):
            raise BucketNotFound(f"check bucket {uri}: bucket {bucket!r} does not exist", uri=uri)

    def stat(self, uri: str) -> ObjectInfo:
        """Size and stored digest, without reading the content."""
        loc = parse_uri(uri)
        obj = self._run("stat", str(loc), lambda: self._client.stat_object(loc.bucket, loc.key))
        return ObjectInfo(str(loc), stored_sha(str(loc), obj.metadata), int(obj.size or 0))

    def exists(self, uri: str) -> bool:
        try:
            self.stat(uri)
        except ObjectNotFound:
            return False
        return True

    def sha256_of(self, uri: str, *, verify: bool = False) -> str:
        """The object's SHA-256: the stored digest, or computed by streaming the content when there is none
        (objects uploaded by other tools) or when ``verify`` asks to check the stored one."""
        loc = parse_uri(uri)
        info = self.stat(uri)
        if info.sha256 is not None and not verify:
            return info.sha256
        actual, stored, _ = self._stream("hash", loc, None)
        verify_digest(str(loc), actual, stored, None)
        return actual

    def get_bytes(self, uri: str, expected_sha256: str | None = None) -> bytes:
        """The whole content, verified against the stored digest and ``expected_sha256`` if given."""
        loc = parse_uri(uri)
        expected = normalise_expected(expected_sha256)

        def fetch() -> tuple[bytes, str | None]:
            response = self._client.get_object(loc.bucket, loc.key)
            try:
                return response.read(), stored_sha(str(loc), response.headers)
            finally:
                response.close()
                response.release_conn()

        data, stored = self._run("get", str(loc), fetch)
        verify_digest(str(loc), hashlib.sha256(data).hexdigest(), stored, expected)
        return data

    def download(
        self, uri: str, path: str | os.PathLike[str], expected_sha256: str | None = None
    ) -> ObjectInfo:
        """Stream to ``path`` through a temporary file in the same directory, hashing on the way; the file
        appears only if the digest checks out, and the partial file is removed otherwise."""
        loc = parse_uri(uri)
        expected = normalise_expected(expected_sha256)
        dest = Path(path)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            actual, stored, size = self._stream("download", loc, tmp)
            verify_digest(str(loc), actual, stored, expected)
            tmp.replace(dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return ObjectInfo(str(loc), actual, size)

    def list(self, prefix_uri: str) -> builtins.list[ObjectInfo]:
        """Every object under the prefix (recursive), sorted by key. ``sha256`` is None: use ``stat``."""
        loc = parse_prefix_uri(prefix_uri)

        def fetch() -> builtins.list[ObjectInfo]:
            objects = self._client.list_objects(loc.bucket, prefix=loc.key or None, recursive=True)
            return [
                ObjectInfo(format_uri(loc.bucket, str(o.object_name)), None, int(o.size or 0))
                for o in objects
                if not o.is_dir
            ]

        return sorted(self._run("list", str(loc), fetch), key=lambda info: info.uri)

    # -- writing ------------------------------------------------------------------------------------------

    def put_bytes(
        self,
        uri: str,
        data: bytes,
        content_type: str = "application/octet-stream",
        *,
        unique_key: bool = False,
    ) -> ObjectInfo:
        """Write ``data`` once under ``uri`` with its SHA-256; ``ObjectExists`` if the key is taken.

        ``unique_key``: the caller made the key unique (a random part name), so the early existence check,
        one round trip per write, is skipped; the conditional write still refuses a taken key."""
        loc = parse_uri(uri)
        data = bytes(data)  # immutable from here on: what is hashed is what is sent
        return self._put(
            loc,
            len(data),
            hashlib.sha256(data).hexdigest(),
            content_type,
            lambda offset, length: data[offset : offset + length],
            check_exists=not unique_key,
            immutable=True,
        )

    def put_file(
        self, uri: str, path: str | os.PathLike[str], content_type: str = "application/octet-stream"
    ) -> ObjectInfo:
        """Write a file once. The digest is computed in a first streaming pass (it must be in the request
        headers before the body); files above ``part_size`` are then sent in parts, never held whole."""
        loc = parse_uri(uri)
        source = Path(path)
        digest = hashlib.sha256()
        with source.open("rb") as fh:
            for chunk in iter(lambda: fh.read(CHUNK), b""):
                digest.update(chunk)
            size = fh.tell()

            def read(offset: int, length: int) -> bytes:
                fh.seek(offset)
                return fh.read(length)

            return self._put(loc, size, digest.hexdigest(), content_type, read)

    def _put(
        self,
        loc: S3Uri,
        size: int,
        sha: str,
        content_type: str,
        read: Callable[[int, int], bytes],
        *,
        check_exists: bool = True,
        immutable: bool = False,
    ) -> ObjectInfo:
        """``immutable``: ``read`` returns slices of bytes already hashed, so the sent body is not hashed
        again (a file may change between the digest pass and the upload, and is checked)."""
        uri = str(loc)
        # A cheap early refusal, also on servers that ignore If-None-Match; the conditional write below is
        # what closes the race between this check and the write on servers that honour it.
        if check_exists and self.exists(uri):
            raise ObjectExists(
                f"put {uri}: the key already exists and artifacts are never overwritten", uri=uri
            )
        headers = {"Content-Type": content_type, SHA256_METADATA: sha}
        if size <= self.part_size:
            body = read(0, size)
            if not immutable:
                check_unchanged(uri, hashlib.sha256(body).hexdigest(), sha)
            self._write_once(
                "put", loc, sha, size, lambda: self._wire.put_if_absent(loc.bucket, loc.key, body, headers)
            )
        else:
            self._put_multipart(loc, size, sha, headers, read)
        return ObjectInfo(uri, sha, size)

    def _put_multipart(
        self, loc: S3Uri, size: int, sha: str, headers: dict[str, str], read: Callable[[int, int], bytes]
    ) -> None:
        uri = str(loc)
        upload_id = self._run(
            "start upload", uri, lambda: self._wire.create_multipart(loc.bucket, loc.key, headers)
        )
        try:
            etags: builtins.list[str] = []
            digest = hashlib.sha256()
            for number, offset in enumerate(range(0, size, self.part_size), start=1):
                body = read(offset, min(self.part_size, size - offset))
                digest.update(body)
                send = functools.partial(self._wire.upload_part, loc.bucket, loc.key, upload_id, number, body)
                etags.append(self._run(f"upload part {number}", uri, send))
            check_unchanged(uri, digest.hexdigest(), sha)
            self._write_once(
                "complete upload",
                loc,
                sha,
                size,
                lambda: self._wire.complete_if_absent(loc.bucket, loc.key, upload_id, etags),
            )
        except BaseException:
            # Best effort: a lost abort leaves an orphan upload, which a bucket lifecycle rule
            # (AbortIncompleteMultipartUpload) cleans up; never mask the original error.
            try:
                with translating("abort upload", uri, self.endpoint):
                    self._wire.abort(loc.bucket, loc.key, upload_id)
            except ArtifactError:
                pass
            raise

    def _write_once(self, op: str, loc: S3Uri, sha: str, size: int, write: Callable[[], None]) -> None:
        """Run a conditional write with retries. If a retry finds the key taken (412, or NoSuchUpload for a
        completed multipart upload), an earlier attempt whose answer was lost may have written it: if the
        object there is ours (same digest and size) that is success, otherwise ``ObjectExists``."""
        attempts = 0

        def attempt() -> None:
            nonlocal attempts
            attempts += 1
            try:
                with translating(op, str(loc), self.endpoint):
                    write()
            except ArtifactError as exc:
                if exc.transient or attempts == 1:
                    raise
                if self._holds(loc, sha, size):
                    return
                if isinstance(exc, ObjectExists):
                    raise
                raise ObjectExists(
                    f"{op} {loc}: the key was taken during the upload ({exc.message})", uri=str(loc)
                ) from exc

        self.retry.run(attempt, what=f"{op} {loc}")

    def _holds(self, loc: S3Uri, sha: str, size: int) -> bool:
        try:
            info = self.stat(str(loc))
        except ObjectNotFound:
            return False
        return info.sha256 == sha and info.size == size

    # -- plumbing -----------------------------------------------------------------------------------------

    def _run(self, op: str, uri: str, fn: Callable[[], T]) -> T:
        def attempt() -> T:
            with translating(op, uri, self.endpoint):
                return fn()

        return self.retry.run(attempt, what=f"{op} {uri}")

    def _stream(self, op: str, loc: S3Uri, sink: Path | None) -> tuple[str, str | None, int]:
        """GET and hash in chunks (optionally writing to ``sink``, truncated on every attempt)."""

        def attempt() -> tuple[str, str | None, int]:
            response = self._client.get_object(loc.bucket, loc.key)
            digest, size = hashlib.sha256(), 0
            try:
                out = sink.open("wb") if sink is not None else None
                try:
                    for chunk in response.stream(CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
                        if out is not None:
                            out.write(chunk)
                finally:
                    if out is not None:
                        out.close()
                return digest.hexdigest(), stored_sha(str(loc), response.headers), size
            finally:
                response.close()
                response.release_conn()

        return self._run(op, str(loc), attempt)
