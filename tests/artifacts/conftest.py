"""Per-test buckets, stores and a fault proxy in front of the session's moto server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from minio import Minio

from mloop.artifacts import ArtifactStore, RetryPolicy
from tests.fixtures.s3 import S3Handle
from tests.support.faults import FaultProxy


def fast_policy(attempts: int = 4, sleeps: list[float] | None = None) -> RetryPolicy:
    """Real backoff shape, tiny delays: keeps fault tests well under a second."""
    record = sleeps if sleeps is not None else []
    return RetryPolicy(attempts=attempts, base_delay=0.005, max_delay=0.02, seed=1, sleep=record.append)


@pytest.fixture
def bucket(s3_server: S3Handle) -> str:
    return s3_server.unique_bucket()


@pytest.fixture
def store(s3_server: S3Handle) -> ArtifactStore:
    return ArtifactStore(s3_server.endpoint, s3_server.access_key, s3_server.secret_key, retry=fast_policy())


@pytest.fixture
def raw(s3_server: S3Handle) -> Minio:
    """A plain minio client that bypasses the store, to tamper with objects."""
    return Minio(s3_server.endpoint, s3_server.access_key, s3_server.secret_key, secure=False)


@pytest.fixture
def proxy(s3_server: S3Handle) -> Iterator[FaultProxy]:
    proxy = FaultProxy(s3_server.endpoint).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def proxied(proxy: FaultProxy, sleeps: list[float]) -> ArtifactStore:
    """A store behind the proxy; the region is fixed so no location lookup muddles request counts."""
    return ArtifactStore(
        proxy.endpoint, "AKIAFAKE", "s3cr3t-NEVER-PRINT", region="us-east-1", retry=fast_policy(4, sleeps)
    )
