"""The minio boundary: client construction, exception translation and conditional writes.

Everything that touches minio or urllib3 types lives here, so ``store.py`` reads as storage logic.
minio's public ``put_object`` cannot send ``If-None-Match`` (it turns unknown headers into user metadata),
so the write-once primitives below call its private request helpers (``_put_object``,
``_create_multipart_upload``, ``_upload_part``, ``_abort_multipart_upload``, ``_execute``); they are stable
across minio 7.x and covered by tests against moto.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from xml.etree import ElementTree as ET

import certifi
import urllib3
from minio import Minio
from minio.error import InvalidResponseError, S3Error, ServerError

from mloop.artifacts.errors import (
    AccessDenied,
    ArtifactError,
    BucketNotFound,
    ObjectExists,
    ObjectNotFound,
    StorageUnavailable,
)

__all__ = ["CONNECT_TIMEOUT", "READ_TIMEOUT", "Wire", "make_client", "split_endpoint", "translating"]

CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 30.0

_ACCESS_CODES = frozenset(
    {
        "AccessDenied",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AllAccessDisabled",
        "InvalidToken",
        "ExpiredToken",
        "AccountProblem",
        "InvalidSecurity",
        "TokenRefreshRequired",
    }
)
_TRANSIENT_CODES = frozenset(
    {
        "SlowDown",
        "ServiceUnavailable",
        "InternalError",
        "RequestTimeout",
        "OperationAborted",
        "XMinioServerNotInitialized",
        "XMinioReadQuorum",
        "XMinioWriteQuorum",
    }
)
_NOT_FOUND_CODES = frozenset({"NoSuchKey", "NoSuchVersion", "ResourceNotFound"})


def make_client(
    endpoint: str, access_key: str | None, secret_key: str | None, *, secure: bool, region: str | None
) -> Minio:
    """A minio client whose pool has short connect timeouts and no retries: ``RetryPolicy`` retries."""
    http = urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT),
        maxsize=10,
        retries=False,
        cert_reqs="CERT_REQUIRED",
        ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
    )
    return Minio(
        endpoint, access_key=access_key, secret_key=secret_key, secure=secure, region=region, http_client=http
    )


@contextmanager
def translating(op: str, uri: str, endpoint: str) -> Iterator[None]:
    """Turn minio/urllib3/network exceptions raised inside the block into ``ArtifactError``s."""
    try:
        yield
    except S3Error as exc:
        raise _from_s3_error(exc, op, uri) from exc
    except ServerError as exc:
        raise _from_status(
            exc.status_code, f"{op} {uri}: HTTP {exc.status_code} from {endpoint}", uri
        ) from exc
    except InvalidResponseError as exc:
        status = int(getattr(exc, "_code", 0) or 0)
        raise _from_status(status, f"{op} {uri}: non-S3 HTTP {status} response from {endpoint}", uri) from exc
    except (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError) as exc:
        detail = str(exc)[:200] or type(exc).__name__
        raise StorageUnavailable(
            f"{op} {uri}: cannot reach S3 endpoint {endpoint}: {detail}", uri=uri
        ) from exc


def _from_s3_error(exc: S3Error, op: str, uri: str) -> ArtifactError:
    code = exc.code or ""
    status = int(getattr(exc.response, "status", 0) or 0)
    message = f"{op} {uri}: {code or status}: {exc.message or 'no message'}"
    if code == "NoSuchBucket":
        return BucketNotFound(message, uri=uri)
    if code in _NOT_FOUND_CODES:
        return ObjectNotFound(message, uri=uri)
    if code in _ACCESS_CODES:
        return AccessDenied(message, uri=uri)
    if code == "PreconditionFailed":  # only our If-None-Match writes are conditional
        return ObjectExists(
            f"{op} {uri}: the key already exists and artifacts are never overwritten", uri=uri
        )
    if code in _TRANSIENT_CODES:
        return StorageUnavailable(message, uri=uri)
    return _from_status(status, message, uri)


def _from_status(status: int, message: str, uri: str) -> ArtifactError:
    if status >= 500 or status in (408, 429):
        return StorageUnavailable(message, uri=uri)
    if status == 403:
        return AccessDenied(message, uri=uri)
    return ArtifactError(message, uri=uri)


class Wire:
    """Write-once request primitives on top of minio's request helpers."""

    def __init__(self, client: Minio) -> None:
        self.client = client

    def put_if_absent(self, bucket: str, key: str, body: bytes, headers: dict[str, str]) -> None:
        """One PutObject with ``If-None-Match: *``: the server refuses (412) if the key exists."""
        self.client._put_object(bucket, key, body, {**headers, "If-None-Match": "*"})

    def create_multipart(self, bucket: str, key: str, headers: dict[str, str]) -> str:
        """Start a multipart upload; metadata (the SHA-256) is fixed here, before any part is sent."""
        return str(self.client._create_multipart_upload(bucket, key, dict(headers)))

    def upload_part(self, bucket: str, key: str, upload_id: str, number: int, body: bytes) -> str:
        return str(self.client._upload_part(bucket, key, body, None, upload_id, number))

    def complete_if_absent(self, bucket: str, key: str, upload_id: str, etags: list[str]) -> None:
        """CompleteMultipartUpload with ``If-None-Match: *`` (minio's helper cannot send that header)."""
        root = ET.Element("CompleteMultipartUpload")
        for number, etag in enumerate(etags, start=1):
            part = ET.SubElement(root, "Part")
            ET.SubElement(part, "PartNumber").text = str(number)
            ET.SubElement(part, "ETag").text = f'"{etag}"'
        body = ET.tostring(root)
        md5 = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()
        headers: dict[str, Any] = {
            "Content-Type": "application/xml",
            "Content-MD5": md5,
            "If-None-Match": "*",
        }
        response = self.client._execute(
            "POST", bucket, key, body=body, headers=headers, query_params={"uploadId": upload_id}
        )
        # S3 may answer 200 and still report an error in the body once the upload has started.
        if b"<Error>" in response.data[:512]:
            raise S3Error.fromxml(response)

    def abort(self, bucket: str, key: str, upload_id: str) -> None:
        self.client._abort_multipart_upload(bucket, key, upload_id)


def split_endpoint(endpoint: str, secure: bool) -> tuple[str, bool]:
    """Accept ``host:port`` or a URL; a URL's scheme decides ``secure``."""
    text = endpoint.strip()
    if "://" in text:
        scheme, _, text = text.partition("://")
        if scheme.lower() not in ("http", "https"):
            raise ValueError(f"S3 endpoint scheme must be http or https, got {scheme!r}")
        secure = scheme.lower() == "https"
    text = text.rstrip("/")
    if not text or "/" in text or "@" in text:
        raise ValueError(
            "S3 endpoint must be host[:port] or http(s)://host[:port] without a path or credentials"
        )
    return text, secure
