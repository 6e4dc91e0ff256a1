"""Reading and writing the same way for ``s3://`` URIs and local paths (a Job uses S3, a person a laptop).

S3 goes only through ``mloop.artifacts`` (write-once, SHA-256 in the metadata). Outputs follow the
write-once rule on both sides, with one allowance: writing identical bytes again is success, so a retried
Job that recomputes the same report does not fail on its own earlier attempt.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from mloop.artifacts import ArtifactError, ArtifactStore, ObjectExists, ObjectNotFound

__all__ = ["CheckFailure", "Storage", "is_s3", "join"]


class CheckFailure(Exception):
    """A check that cannot produce a report (unreadable data, bad input): exit 1 with ``reason``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def is_s3(location: str) -> bool:
    return location.startswith("s3://")


def join(base: str, *parts: str) -> str:
    """``base/part/...`` for either kind of location (no doubled slashes)."""
    return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts if p)])


class Storage:
    """Lists, reads and writes objects or files; the S3 store is built from ``MLOOP_S3_*`` on first use."""

    def __init__(self, store: ArtifactStore | None = None) -> None:
        self._store = store
        self.reads = 0
        self.lists = 0

    @property
    def store(self) -> ArtifactStore:
        if self._store is None:
            try:
                self._store = ArtifactStore.from_env()
            except ValueError as exc:
                raise CheckFailure("StorageNotConfigured", f"S3 settings: {exc}") from exc
        return self._store

    def list(self, prefix: str) -> list[str]:
        """Objects under a prefix (or files under a directory), sorted; empty when there are none."""
        self.lists += 1
        if is_s3(prefix):
            try:
                return [info.uri for info in self.store.list(prefix.rstrip("/") + "/")]
            except ArtifactError as exc:
                raise CheckFailure(exc.reason, exc.message) from exc
        path = Path(prefix)
        return sorted(str(p) for p in path.rglob("*") if p.is_file()) if path.is_dir() else []

    def read(self, location: str, what: str = "object") -> bytes:
        self.reads += 1
        if is_s3(location):
            try:
                return self.store.get_bytes(location)
            except ObjectNotFound as exc:
                raise CheckFailure("DataNotFound", f"{what} {location}: not found") from exc
            except ArtifactError as exc:
                raise CheckFailure(exc.reason, f"{what}: {exc.message}") from exc
        try:
            return Path(location).read_bytes()
        except FileNotFoundError as exc:
            raise CheckFailure("DataNotFound", f"{what} {location}: no such file") from exc
        except OSError as exc:
            raise CheckFailure("DataUnreadable", f"{what} {location}: {exc}") from exc

    def write(self, location: str, data: bytes, content_type: str) -> str:
        """Write once; the same bytes already there count as written, different bytes fail."""
        sha = hashlib.sha256(data).hexdigest()
        if is_s3(location):
            try:
                self.store.put_bytes(location, data, content_type)
            except ObjectExists as exc:
                if self.store.stat(location).sha256 != sha:
                    raise CheckFailure("OutputExists", f"{location} exists with different content") from exc
            except ArtifactError as exc:
                raise CheckFailure(exc.reason, f"write {location}: {exc.message}") from exc
            return location
        path = Path(location)
        if path.exists():
            if hashlib.sha256(path.read_bytes()).hexdigest() != sha:
                raise CheckFailure("OutputExists", f"{location} exists with different content")
            return location
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.part")
            tmp.write_bytes(data)
            tmp.replace(path)
        except OSError as exc:
            raise CheckFailure("OutputUnwritable", f"write {location}: {exc}") from exc
        return location
