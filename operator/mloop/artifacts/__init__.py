"""The S3 gateway: write-once, SHA-256-checked artifacts (the only package outside tests importing minio)."""

from mloop.artifacts.digests import SHA256_METADATA
from mloop.artifacts.errors import (
    AccessDenied,
    ArtifactError,
    BucketNotFound,
    ChecksumMismatch,
    InvalidUri,
    ObjectExists,
    ObjectNotFound,
    StorageUnavailable,
)
from mloop.artifacts.retry import RetryPolicy
from mloop.artifacts.store import ArtifactStore, ObjectInfo
from mloop.artifacts.uri import S3Uri, format_uri, parse_prefix_uri, parse_uri

__all__ = [
    "SHA256_METADATA",
    "AccessDenied",
    "ArtifactError",
    "ArtifactStore",
    "BucketNotFound",
    "ChecksumMismatch",
    "InvalidUri",
    "ObjectExists",
    "ObjectInfo",
    "ObjectNotFound",
    "RetryPolicy",
    "S3Uri",
    "StorageUnavailable",
    "format_uri",
    "parse_prefix_uri",
    "parse_uri",
]
