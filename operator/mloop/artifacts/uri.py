"""``s3://bucket/key`` URIs: parse, validate and format.

Keys are built from namespace, project and run names, so we reject what would make them ambiguous or unsafe
to mirror onto a file system (empty, ``.`` or ``..`` segments, control characters) and bucket names S3
itself would refuse, with a message that names the exact problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mloop.artifacts.errors import InvalidUri

__all__ = ["S3Uri", "format_uri", "parse_prefix_uri", "parse_uri"]

SCHEME = "s3://"
MAX_KEY_BYTES = 1024
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IPV4_RE = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class S3Uri:
    """A validated location: ``key`` is an object key, or a prefix ("" or ending in "/") for listings."""

    bucket: str
    key: str

    def __str__(self) -> str:
        return f"{SCHEME}{self.bucket}/{self.key}"

    def child(self, name: str) -> S3Uri:
        """The object ``name`` under this prefix (a "/" is inserted when missing)."""
        sep = "" if not self.key or self.key.endswith("/") else "/"
        return parse_uri(format_uri(self.bucket, f"{self.key}{sep}{name}"))


def format_uri(bucket: str, key: str) -> str:
    """Format without validating (``parse_uri`` validates)."""
    return f"{SCHEME}{bucket}/{key}"


def parse_uri(uri: str) -> S3Uri:
    """Parse the URI of one object: the key must be non-empty and must not end with "/"."""
    parsed = _parse(uri)
    if not parsed.key:
        raise InvalidUri(f"{uri!r}: no object key after the bucket name", uri=uri)
    if parsed.key.endswith("/"):
        raise InvalidUri(f"{uri!r}: an object key must not end with '/' (that is a prefix)", uri=uri)
    return parsed


def parse_prefix_uri(uri: str) -> S3Uri:
    """Parse a prefix for listings: ``s3://bucket``, ``s3://bucket/`` or ``s3://bucket/some/prefix``."""
    return _parse(uri)


def _parse(uri: str) -> S3Uri:
    if not isinstance(uri, str):
        raise InvalidUri(f"expected an s3:// URI string, got {type(uri).__name__}")
    if not uri.startswith(SCHEME):
        scheme = uri.split("://", 1)[0] + "://" if "://" in uri else "no scheme"
        raise InvalidUri(f"{uri!r}: must start with 's3://' (got {scheme})", uri=uri)
    bucket, _, key = uri[len(SCHEME) :].partition("/")
    if "@" in bucket:
        # Do not echo the URI: the part before "@" may be a credential.
        raise InvalidUri("an s3:// URI must not carry credentials ('user@bucket'); use a Secret reference")
    _check_bucket(uri, bucket)
    _check_key(uri, key)
    return S3Uri(bucket, key)


def _check_bucket(uri: str, bucket: str) -> None:
    if not bucket:
        raise InvalidUri(f"{uri!r}: missing bucket name", uri=uri)
    if not 3 <= len(bucket) <= 63:
        raise InvalidUri(f"{uri!r}: bucket name {bucket!r} must be 3 to 63 characters long", uri=uri)
    if not _BUCKET_RE.match(bucket):
        raise InvalidUri(
            f"{uri!r}: bucket name {bucket!r} may contain only lowercase letters, digits, '.' and '-', "
            "and must start and end with a letter or digit",
            uri=uri,
        )
    if ".." in bucket or ".-" in bucket or "-." in bucket:
        raise InvalidUri(f"{uri!r}: bucket name {bucket!r} has adjacent '.'/'-' characters", uri=uri)
    if _IPV4_RE.match(bucket):
        raise InvalidUri(f"{uri!r}: bucket name {bucket!r} must not look like an IP address", uri=uri)


def _check_key(uri: str, key: str) -> None:
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise InvalidUri(f"{uri[:80]!r}...: key longer than {MAX_KEY_BYTES} bytes", uri=uri)
    if _CONTROL_RE.search(key):
        raise InvalidUri(f"{uri!r}: key contains a control character", uri=uri)
    if "\\" in key:
        raise InvalidUri(f"{uri!r}: key contains a backslash; use '/' to separate segments", uri=uri)
    segments = key.split("/")
    if segments and segments[-1] == "":
        segments.pop()  # a prefix may end with "/"
    for segment in segments:
        if segment == "":
            raise InvalidUri(f"{uri!r}: key contains an empty segment ('//' or a leading '/')", uri=uri)
        if segment in (".", ".."):
            raise InvalidUri(f"{uri!r}: key contains a {segment!r} segment", uri=uri)
