"""Reading inputs and writing outputs, the same way for an ``s3://`` URI and a local path.

The trainer runs in a Job (S3) and by hand (local files); every stage above this module sees only bytes and
``ArtifactRef`` records, so both paths produce identical results and digests. S3 goes only through
``mloop.artifacts`` (write-once, SHA-256 in the object metadata); local outputs follow the same write-once
rule so a rerun cannot silently replace a model a ModelVersion already names.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from mloop.artifacts import ArtifactError, ArtifactStore, ObjectExists, parse_prefix_uri, parse_uri
from mloop.trainer.result import TrainerFailure

__all__ = ["ArtifactRef", "Inputs", "OutputSink", "is_s3"]

T = TypeVar("T")


def is_s3(location: str) -> bool:
    """``s3://`` URIs go through the artifact store; everything else is a local path."""
    return location.startswith("s3://")


@dataclass(frozen=True)
class ArtifactRef:
    """Where one written artifact lives and what its bytes hash to (the ModelVersion names both)."""

    uri: str
    sha256: str
    size_bytes: int

    def to_json(self) -> dict[str, object]:
        return {"uri": self.uri, "sha256": self.sha256, "sizeBytes": self.size_bytes}


class Inputs:
    """Reads objects and lists prefixes; the S3 store is built lazily so local runs need no S3 settings."""

    def __init__(self, store: ArtifactStore | None = None) -> None:
        self._store = store

    @property
    def store(self) -> ArtifactStore:
        if self._store is None:
            try:
                self._store = ArtifactStore.from_env()
            except ValueError as exc:
                raise TrainerFailure("StorageNotConfigured", f"S3 settings: {exc}") from exc
        return self._store

    def read(self, location: str, expected_sha256: str | None = None) -> bytes:
        """The whole object or file; an S3 object's stored digest is verified by the store."""
        if is_s3(location):
            return _guard(lambda: self.store.get_bytes(location, expected_sha256), location)
        path = Path(location)
        if not path.is_file():
            raise TrainerFailure("DataNotFound", f"{location}: no such file")
        data = path.read_bytes()
        if expected_sha256 and hashlib.sha256(data).hexdigest() != expected_sha256:
            raise TrainerFailure("ChecksumMismatch", f"{location}: content differs from {expected_sha256}")
        return data

    def parts(self, location: str) -> list[str] | None:
        """The objects under a prefix or directory in key order, or None when ``location`` is one object."""
        if is_s3(location):
            if not location.endswith("/") and _guard(lambda: self.store.exists(location), location):
                return None
            prefix = location if location.endswith("/") else location + "/"
            parse_prefix_uri(prefix)
            return [info.uri for info in _guard(lambda: self.store.list(prefix), location)]
        path = Path(location)
        if path.is_dir():
            return sorted(str(p) for p in path.rglob("*") if p.is_file())
        if not path.exists():
            raise TrainerFailure("DataNotFound", f"{location}: no such file or directory")
        return None


class OutputSink:
    """Writes run outputs under one prefix (``s3://bucket/runs/x/``) or directory, once each.

    Writing the same bytes again is success (a retried Job re-exports an identical, deterministic model);
    different bytes under an existing name is ``OutputExists``.
    """

    def __init__(self, location: str, inputs: Inputs) -> None:
        self.location = location
        self._inputs = inputs
        if is_s3(location):
            parse_prefix_uri(location)

    def uri(self, name: str) -> str:
        if is_s3(self.location):
            return self.location.rstrip("/") + "/" + name
        return str(Path(self.location) / name)

    def put(self, name: str, data: bytes, content_type: str = "application/octet-stream") -> ArtifactRef:
        sha = hashlib.sha256(data).hexdigest()
        target = self.uri(name)
        if is_s3(self.location):
            store = self._inputs.store
            parse_uri(target)
            try:
                info = store.put_bytes(target, data, content_type)
            except ObjectExists as exc:
                existing = _guard(lambda: store.stat(target), target)
                if existing.sha256 != sha:
                    raise TrainerFailure(
                        "OutputExists", f"{target} already exists with different content"
                    ) from exc
                return ArtifactRef(target, sha, len(data))
            except ArtifactError as exc:
                raise TrainerFailure(exc.reason, exc.message) from exc
            return ArtifactRef(info.uri, info.sha256 or sha, info.size)
        path = Path(target)
        if path.exists():
            if hashlib.sha256(path.read_bytes()).hexdigest() != sha:
                raise TrainerFailure("OutputExists", f"{target} already exists with different content")
            return ArtifactRef(target, sha, len(data))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.part")
        tmp.write_bytes(data)
        tmp.replace(path)
        return ArtifactRef(target, sha, len(data))


def _guard(fn: Callable[[], T], location: str) -> T:
    """Storage errors become failures with the store's reason (BucketNotFound, AccessDenied, ...)."""
    try:
        return fn()
    except ArtifactError as exc:
        reason = "DataNotFound" if exc.reason == "ObjectNotFound" else exc.reason
        raise TrainerFailure(reason, exc.message) from exc
