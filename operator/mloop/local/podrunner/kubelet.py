"""The node: binds pending pods to itself, gives each a loopback address, and keeps one
``PodWorker`` per pod that should run here (and none for pods that were deleted).

It is level-based: ``sync`` compares the pod cache with the workers and closes the gap, so a
restarted runner adopts the pods bound to it (their lost containers restart per policy).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import platform
import shutil
from collections.abc import Iterable
from typing import Any

import aiohttp

from .client import NODES, PODS, ApiClient, ApiError, NotFound
from .informer import Informer
from .worker import POD_NETWORK, NodeConfig, PodWorker

__all__ = ["IpAllocator", "Kubelet"]

log = logging.getLogger(__name__)

TERMINAL = ("Succeeded", "Failed")


class IpAllocator:
    """Pod addresses from ``network`` (127.1.0.0/16), first its ``.2``, handed out next-fit (slow reuse)."""

    def __init__(self, network: str = POD_NETWORK, first: str | None = None) -> None:
        self.network = ipaddress.ip_network(network)
        self.first = int(ipaddress.ip_address(first)) if first else int(self.network.network_address) + 2
        self.cursor = self.first

    def allocate(self, in_use: Iterable[str]) -> str:
        """The next free address after the last one handed out."""
        used = set(in_use)
        last = int(self.network.broadcast_address) - 1
        size = last - self.first + 1
        for step in range(size):
            candidate = self.first + (self.cursor - self.first + step) % size
            text = str(ipaddress.ip_address(candidate))
            if text not in used:
                self.cursor = candidate + 1 if candidate < last else self.first
                return text
        raise RuntimeError(f"no free pod address left in {self.network}")


def _deleting(pod: dict[str, Any]) -> bool:
    return bool(pod.get("metadata", {}).get("deletionTimestamp"))


class Kubelet:
    """The local node's agent."""

    def __init__(self, api: ApiClient, pods: Informer, config: NodeConfig) -> None:
        self.api = api
        self.pods = pods
        self.config = config
        self.workers: dict[str, PodWorker] = {}
        self.ips = IpAllocator(config.pod_network)
        self._stopping: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        """The HTTP session probes use (not the API session: probes go to pods)."""
        if self._session is None:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True))
        return self._session

    async def register_node(self) -> None:
        """Create the Node object (so ``kubectl get nodes`` shows it); failures are not fatal."""
        name = self.config.node_name
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"},
            },
            "spec": {},
        }
        status = {
            "conditions": [
                {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "mloop pod runner"}
            ],
            "addresses": [
                {"type": "InternalIP", "address": "127.0.0.1"},
                {"type": "Hostname", "address": name},
            ],
            "nodeInfo": {
                "kubeletVersion": "v1.32.0-mloop",
                "operatingSystem": "linux",
                "architecture": platform.machine(),
            },
        }
        try:
            try:
                await self.api.get(NODES, None, name)
            except NotFound:
                await self.api.create(NODES, None, node)
            await self.api.replace_status(NODES, None, name, status)
        except ApiError as exc:
            log.warning("node %s not registered: %s", name, exc)

    async def sync(self) -> None:
        """Bind, start and stop workers so they match the pods in the cache."""
        for pod in self.pods.items():
            meta, spec = pod["metadata"], pod.get("spec") or {}
            phase = (pod.get("status") or {}).get("phase")
            if not spec.get("nodeName") and not _deleting(pod) and phase not in TERMINAL:
                pod = await self._bind(pod)  # noqa: PLW2901 - the bound pod replaces the cached one
                spec = pod.get("spec") or {}
            if spec.get("nodeName") != self.config.node_name:
                continue
            worker = self.workers.get(meta["uid"])
            if worker is None and not _deleting(pod) and phase not in TERMINAL:
                self._start(pod)
            elif worker is not None and _deleting(pod) and not worker.deleting:
                self._stop(worker, deleted=False)
        for uid, worker in list(self.workers.items()):
            if self.pods.get(uid) is None and not worker.gone:
                self._stop(worker, deleted=True)

    async def _bind(self, pod: dict[str, Any]) -> dict[str, Any]:
        """The scheduler's job: every pod goes to the one node (nodeSelector etc. are ignored)."""
        meta = pod["metadata"]
        try:
            bound = await self.api.merge_patch(
                PODS, meta.get("namespace"), meta["name"], {"spec": {"nodeName": self.config.node_name}}
            )
        except ApiError as exc:
            log.warning("binding %s/%s failed: %s", meta.get("namespace"), meta["name"], exc)
            return pod
        self.pods.upsert(bound)
        return bound

    def _start(self, pod: dict[str, Any]) -> None:
        in_use = {str((p.get("status") or {}).get("podIP")) for p in self.pods.items()}
        in_use |= {w.pod_ip for w in self.workers.values()}
        pod_ip = (pod.get("status") or {}).get("podIP") or self.ips.allocate(in_use)
        worker = PodWorker(
            pod, pod_ip, api=self.api, config=self.config, session=self.session, on_written=self.pods.upsert
        )
        self.workers[worker.uid] = worker
        log.info("running pod %s/%s on %s", worker.namespace, worker.name, pod_ip)
        worker.start()

    def _stop(self, worker: PodWorker, *, deleted: bool) -> None:
        worker.deleting = True  # set now, not when the task first runs: the next sync must not repeat it
        worker.gone = worker.gone or deleted

        async def stop() -> None:
            await worker.stop(deleted=deleted)
            if deleted:
                self.workers.pop(worker.uid, None)

        task = asyncio.ensure_future(stop())
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    def prune_directories(self) -> None:
        """Remove the directories of pods deleted while no runner was watching (once, at start)."""
        known = {(p["metadata"].get("namespace"), p["metadata"]["name"]) for p in self.pods.items()}
        for directory in sorted((self.config.home / "pods").glob("*/*")):
            if directory.is_dir() and (directory.parent.name, directory.name) not in known:
                shutil.rmtree(directory, ignore_errors=True)

    async def shutdown(self) -> None:
        """Stop every process this runner started (statuses are left for the next runner to recover)."""
        await asyncio.gather(
            *(w.stop(deleted=False, silent=True) for w in self.workers.values()), *self._stopping
        )
        if self._session is not None:
            await self._session.close()
