"""Typed errors of the artifact store.

Callers (reconcilers, the trainer, the prediction server) never see a minio or urllib3 exception: everything
is translated at the gateway boundary into one of these, and each carries a CamelCase ``reason`` that can
go straight into a Kubernetes condition, plus ``transient`` telling the caller whether retrying may help.
Messages name the bucket, key and endpoint, never a credential.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AccessDenied",
    "ArtifactError",
    "BucketNotFound",
    "ChecksumMismatch",
    "InvalidUri",
    "ObjectExists",
    "ObjectNotFound",
    "StorageUnavailable",
]


class ArtifactError(Exception):
    """Base of every artifact-store error; raised as is for S3 errors that have no better class."""

    reason: ClassVar[str] = "StorageError"
    transient: ClassVar[bool] = False

    def __init__(self, message: str, *, uri: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.uri = uri

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class StorageUnavailable(ArtifactError):
    """The endpoint could not be reached or kept failing with 5xx/throttling: retry later."""

    reason = "StorageUnavailable"
    transient = True


class BucketNotFound(ArtifactError):
    """The bucket does not exist: a configuration problem, retrying will not help."""

    reason = "BucketNotFound"


class AccessDenied(ArtifactError):
    """Credentials were rejected or lack permission for this bucket or key."""

    reason = "AccessDenied"


class ObjectNotFound(ArtifactError):
    """No object under this key."""

    reason = "ObjectNotFound"


class ObjectExists(ArtifactError):
    """Artifacts are written once: the key is already taken by another object."""

    reason = "ObjectExists"


class ChecksumMismatch(ArtifactError):
    """The content's SHA-256 differs from the stored or expected digest: never use this object."""

    reason = "ChecksumMismatch"


class InvalidUri(ArtifactError, ValueError):
    """The text is not an ``s3://bucket/key`` URI we accept; the message names the problem."""

    reason = "InvalidUri"
