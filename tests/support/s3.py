"""Upload objects the way a user's pipeline would: plain S3 writes, no mloop metadata."""

from __future__ import annotations

import io

from minio import Minio

from tests.fixtures.s3 import S3Handle


def upload(s3: S3Handle, bucket: str, key: str, data: bytes) -> None:
    client = Minio(s3.endpoint, access_key=s3.access_key, secret_key=s3.secret_key, secure=False)
    client.put_object(bucket, key, io.BytesIO(data), len(data))
