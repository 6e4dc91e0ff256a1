"""Upload objects the way a user's pipeline would: plain S3 writes, no mloop metadata."""

from __future__ import annotations

import io

from minio import Minio

from tests.fixtures.s3 import S3Handle


def upload(s3: S3Handle, bucket: str, key: str, data: bytes) -> None:
    client = Minio(s3.endpoint, access_key=s3.access_key, secret_key=s3.secret_key, secure=False)
    client.put_object(bucket, key, io.BytesIO(data), len(data))


def operator_s3_env(s3: S3Handle) -> dict[str, str]:
    """The operator's own S3 settings for the test server."""
    return {
        "MLOOP_S3_ENDPOINT": s3.endpoint,
        "MLOOP_S3_ACCESS_KEY": s3.access_key,
        "MLOOP_S3_SECRET_KEY": s3.secret_key,
    }
