"""List-then-watch caches of one resource, and a kubeconfig reader: the read side of the controller.

Writes go through :class:`mloop.k8s.gateway.KubeGateway`; the gateway has no watch, so this module keeps
its own aiohttp session for the long-lived streams. A watch that expires (410 Gone) or breaks is followed by
a fresh list, diffed against the cache, so the callback sees every change exactly as if it had been watched.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from mloop.k8s.gateway import ClusterConnection

__all__ = ["Informer", "Obj", "connection_from_kubeconfig", "key_of", "new_session"]

log = logging.getLogger(__name__)

Obj = dict[str, Any]
#: ``callback(key, old, new)``: ``old`` is None on add, ``new`` is None on delete.
Callback = Callable[[str, Obj | None, Obj | None], None]


def key_of(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def connection_from_kubeconfig(path: str | Path) -> ClusterConnection:
    """The current context's cluster and user (token, client certificate, CA) from a kubeconfig file."""
    config = yaml.safe_load(Path(path).read_text()) or {}
    current = config.get("current-context")
    contexts = {c["name"]: c.get("context") or {} for c in config.get("contexts") or ()}
    context = contexts.get(current) or next(iter(contexts.values()), {})
    clusters = {c["name"]: c.get("cluster") or {} for c in config.get("clusters") or ()}
    users = {u["name"]: u.get("user") or {} for u in config.get("users") or ()}
    cluster = clusters.get(context.get("cluster", "")) or next(iter(clusters.values()), {})
    user = users.get(context.get("user", ""), {})
    if not cluster.get("server"):
        raise ValueError(f"{path}: no cluster server in the current context")
    return ClusterConnection(
        server=cluster["server"],
        token=user.get("token"),
        ca_path=cluster.get("certificate-authority"),
        ca_data=cluster.get("certificate-authority-data"),
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        certificate_path=user.get("client-certificate"),
        certificate_data=user.get("client-certificate-data"),
        private_key_path=user.get("client-key"),
        private_key_data=user.get("client-key-data"),
    )


class Informer:
    """A cache of every object at ``path`` (e.g. ``/api/v1/pods``), kept current by a watch."""

    def __init__(self, session: aiohttp.ClientSession, path: str, callback: Callback) -> None:
        self.path = path
        self.cache: dict[str, Obj] = {}
        self._session = session
        self._callback = callback
        self._rv = ""

    async def sync(self) -> None:
        """List, replace the cache and report the differences."""
        async with self._session.get(self.path.lstrip("/")) as response:
            response.raise_for_status()
            body = await response.json()
        fresh = {key_of(item): item for item in body.get("items") or ()}
        self._rv = str((body.get("metadata") or {}).get("resourceVersion", ""))
        old_cache, self.cache = self.cache, fresh
        for key, gone in old_cache.items():
            if key not in fresh:
                self._callback(key, gone, None)
        for key, new in fresh.items():
            old = old_cache.get(key)
            if old is None or old.get("metadata", {}).get("resourceVersion") != new["metadata"].get(
                "resourceVersion"
            ):
                self._callback(key, old, new)

    async def run(self) -> None:
        """Watch forever (until cancelled), relisting after any break with a capped backoff."""
        delay = 0.2
        while True:
            try:
                await self._watch()
                delay = 0.2
            except asyncio.CancelledError:
                raise
            except _Gone:
                log.info("%s: watch expired, relisting", self.path)
            except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
                log.warning("%s: watch failed (%s), retrying in %.1fs", self.path, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            else:
                continue
            try:
                await self.sync()
            except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
                log.warning("%s: relist failed: %s", self.path, exc)

    async def _watch(self) -> None:
        params = {"watch": "1", "allowWatchBookmarks": "true", "timeoutSeconds": "300"}
        if self._rv:
            params["resourceVersion"] = self._rv
        timeout = aiohttp.ClientTimeout(total=None, sock_read=330)
        async with self._session.get(self.path.lstrip("/"), params=params, timeout=timeout) as response:
            if response.status == 410:
                raise _Gone
            response.raise_for_status()
            async for line in response.content:
                if line.strip():
                    self._apply(json.loads(line))

    def _apply(self, event: Obj) -> None:
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            if obj.get("code") == 410:
                raise _Gone
            raise ValueError(f"watch error: {obj.get('message')}")
        self._rv = str((obj.get("metadata") or {}).get("resourceVersion", self._rv))
        if kind == "BOOKMARK":
            return
        key = key_of(obj)
        old = self.cache.get(key)
        if kind == "DELETED":
            self.cache.pop(key, None)
            self._callback(key, old, None)
        else:
            self.cache[key] = obj
            self._callback(key, old, obj)


class _Gone(Exception):
    """The resourceVersion is too old: relist."""


def new_session(connection: ClusterConnection) -> aiohttp.ClientSession:
    """A session for watches with the connection's credentials."""
    headers = {"Accept": "application/json", "User-Agent": "mloop-services"}
    if connection.token:
        headers["Authorization"] = f"Bearer {connection.token}"
    return aiohttp.ClientSession(
        base_url=connection.server.rstrip("/") + "/",
        headers=headers,
        connector=aiohttp.TCPConnector(ssl=connection.ssl_context()),
        timeout=aiohttp.ClientTimeout(total=30),
    )
