"""SHA-256 helpers: the digest travels as user metadata and is checked on every read."""

from __future__ import annotations

import re
from collections.abc import Mapping

from mloop.artifacts.errors import ChecksumMismatch

__all__ = ["SHA256_METADATA", "check_unchanged", "normalise_expected", "stored_sha", "verify_digest"]

SHA256_METADATA = "x-amz-meta-sha256"
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


def stored_sha(uri: str, headers: Mapping[str, str] | None) -> str | None:
    """The digest from the response headers; a malformed value counts as a mismatch, never as absent."""
    value = (headers or {}).get(SHA256_METADATA)
    if value is None:
        return None
    value = value.strip().lower()
    if not _SHA256_RE.match(value):
        raise ChecksumMismatch(f"{uri}: stored sha256 metadata is not a SHA-256 hex digest", uri=uri)
    return value


def normalise_expected(expected: str | None) -> str | None:
    """Accept upper case and a ``sha256:`` prefix; reject anything that is not a digest early."""
    if expected is None:
        return None
    value = expected.strip().lower().removeprefix("sha256:")
    if not _SHA256_RE.match(value):
        raise ValueError("expected_sha256 must be 64 hexadecimal characters")
    return value


def verify_digest(uri: str, actual: str, stored: str | None, expected: str | None) -> None:
    """Raise ``ChecksumMismatch`` unless the content matches both the stored and the expected digest."""
    if stored is not None and actual != stored:
        raise ChecksumMismatch(
            f"{uri}: content SHA-256 {actual} differs from the stored digest {stored}", uri=uri
        )
    if expected is not None and actual != expected:
        raise ChecksumMismatch(
            f"{uri}: content SHA-256 {actual} differs from the expected {expected}", uri=uri
        )


def check_unchanged(uri: str, actual: str, planned: str) -> None:
    """The bytes sent must hash to the digest announced in the headers (the file may change under us)."""
    if actual != planned:
        raise ChecksumMismatch(f"put {uri}: the source changed while it was being uploaded", uri=uri)
