"""A tiny informer: list, then watch from the list's resourceVersion, resume after every stream end,
relist on 410 Gone, and keep a cache the controllers read instead of hitting the API.

Writes the runner makes are put into the cache at once (``upsert``/``forget``), so the next
reconcile pass sees its own creations and deletions before the watch echoes them: that is what
keeps a level-based loop from creating a second pod for the same slot.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from .client import ApiClient, ApiError, Resource

__all__ = ["Informer"]

log = logging.getLogger(__name__)


def _newer_or_same(new: dict[str, Any], old: dict[str, Any]) -> bool:
    """Whether ``new`` is at least as recent (resourceVersions compare as integers when they are)."""
    a = str(new.get("metadata", {}).get("resourceVersion", ""))
    b = str(old.get("metadata", {}).get("resourceVersion", ""))
    if a.isdigit() and b.isdigit():
        return int(a) >= int(b)
    return True


class Informer:
    """The cache of one resource across all namespaces, kept fresh by a watch."""

    def __init__(self, api: ApiClient, resource: Resource, on_change: Callable[[], None]) -> None:
        self.api = api
        self.resource = resource
        self.on_change = on_change
        self.ready = asyncio.Event()
        self._objects: dict[str, dict[str, Any]] = {}
        self._gone: set[str] = set()

    def items(self) -> list[dict[str, Any]]:
        """A snapshot of the cached objects."""
        return list(self._objects.values())

    def get(self, uid: str) -> dict[str, Any] | None:
        """The cached object with this uid."""
        return self._objects.get(uid)

    def upsert(self, obj: dict[str, Any]) -> None:
        """Record an object we just wrote (ignored if it is older than what we hold or deleted)."""
        uid = obj.get("metadata", {}).get("uid", "")
        if not uid or uid in self._gone:
            return
        old = self._objects.get(uid)
        if old is None or _newer_or_same(obj, old):
            self._objects[uid] = obj

    def forget(self, uid: str) -> None:
        """Record a deletion (a late MODIFIED event must not bring the object back)."""
        self._objects.pop(uid, None)
        self._gone.add(uid)

    async def run(self) -> None:
        """List and watch forever (cancel to stop); errors back off up to 5 s, never hot-loop."""
        delay = 0.5
        while True:
            try:
                version = await self._list()
                delay = 0.5
                while True:
                    version = await self._watch(version)
            except asyncio.CancelledError:
                raise
            except ApiError as exc:
                if exc.status != 410:
                    log.warning("watch of %s failed: %s", self.resource.plural, exc)
            except Exception:
                log.exception("watch of %s failed", self.resource.plural)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _list(self) -> str:
        listing = await self.api.list(self.resource)
        fresh = {}
        for item in listing.get("items") or []:
            item.setdefault("apiVersion", self.resource.group_version)
            item.setdefault("kind", self.resource.kind)
            fresh[item["metadata"]["uid"]] = item
        self._objects = fresh
        self.ready.set()
        self.on_change()
        return str(listing.get("metadata", {}).get("resourceVersion", ""))

    async def _watch(self, version: str) -> str:
        """One watch stream; returns the resourceVersion to resume from (410 raises to relist)."""
        async for event in self.api.watch(self.resource, version):
            kind = event.get("type")
            obj = event.get("object") or {}
            if kind == "ERROR":
                raise ApiError(int(obj.get("code", 500)), str(obj.get("reason", "")), str(obj.get("message")))
            version = str(obj.get("metadata", {}).get("resourceVersion") or version)
            if kind == "BOOKMARK":
                continue
            uid = obj.get("metadata", {}).get("uid", "")
            if kind == "DELETED":
                self.forget(uid)
            else:
                self.upsert(obj)
            self.on_change()
        return version
