"""Typed dependencies every handler gets from kopf's ``memo``: set up at startup, closed at cleanup."""

from __future__ import annotations

import asyncio
import hashlib
from collections import defaultdict
from dataclasses import dataclass, field

from mloop.api.mlproject import Storage
from mloop.artifacts import ArtifactStore
from mloop.controller.metrics import OperatorMetrics
from mloop.controller.settings import OperatorSettings
from mloop.k8s import KubeGateway

__all__ = ["Dependencies", "KeyedLocks", "StoreFactory"]


class KeyedLocks:
    """One asyncio lock per object uid, so a timer and a change handler never reconcile one object at once."""

    def __init__(self) -> None:
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def __call__(self, key: str) -> asyncio.Lock:
        return self._locks[key]

    def forget(self, key: str) -> None:
        self._locks.pop(key, None)


@dataclass
class StoreFactory:
    """Builds (and caches) an ``ArtifactStore`` per endpoint and credentials.

    Credentials come from the project's Secret reference, or from the operator's own settings when the project
    names none; the cache key holds a digest of the secret, never the secret itself.
    """

    settings: OperatorSettings
    _cache: dict[tuple[str, str, bool, str | None, str], ArtifactStore] = field(default_factory=dict)

    def endpoint_of(self, storage: Storage) -> tuple[str, bool]:
        endpoint = storage.endpoint or self.settings.s3_endpoint
        secure = self.settings.s3_secure if storage.secure is None else storage.secure
        if endpoint.startswith("https://"):
            endpoint, secure = endpoint.removeprefix("https://"), storage.secure is not False
        elif endpoint.startswith("http://"):
            endpoint, secure = endpoint.removeprefix("http://"), bool(storage.secure)
        return endpoint.rstrip("/"), secure

    def get(
        self, storage: Storage, access_key: str | None = None, secret_key: str | None = None
    ) -> ArtifactStore:
        endpoint, secure = self.endpoint_of(storage)
        access = self.settings.s3_access_key if access_key is None else access_key
        secret = self.settings.s3_secret_key if secret_key is None else secret_key
        region = storage.region or self.settings.s3_region
        key = (endpoint, access, secure, region, hashlib.sha256(secret.encode()).hexdigest())
        store = self._cache.get(key)
        if store is None:
            store = ArtifactStore(endpoint, access, secret, secure=secure, region=region)
            self._cache[key] = store
        return store


@dataclass
class Dependencies:
    """What the orchestration layer needs; tests build one against the emulator and moto."""

    settings: OperatorSettings
    kube: KubeGateway
    stores: StoreFactory
    metrics: OperatorMetrics
    locks: KeyedLocks = field(default_factory=KeyedLocks)
