"""The pod runner: informers, the controllers and the kubelet on one event loop.

Level-based: any watch event (or a write of ours) wakes one pass that reconciles everything from
the caches; a one-second tick covers time-based rules (deadlines, TTLs, back-off, minReadySeconds).
Passes never run back to back faster than ``min_interval``, so nothing can hot-loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .client import DEPLOYMENTS, JOBS, PODS, REPLICASETS, ApiClient, KubeConfig
from .controllers import Controllers
from .informer import Informer
from .kubelet import Kubelet
from .process import kill_leftovers
from .worker import POD_NETWORK, NodeConfig

__all__ = ["PodRunner", "RunnerConfig"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunnerConfig:
    """Command-line settings."""

    kubeconfig: Path
    home: Path
    node_name: str = "mloop-local"
    restart_backoff_base: float = 10.0
    max_grace: float = 30.0
    log_interval: float = 1.0
    pod_network: str = POD_NETWORK
    resync: float = 1.0
    min_interval: float = 0.05


class PodRunner:
    """Runs until ``stop`` is set, then stops every process it started."""

    def __init__(self, config: RunnerConfig) -> None:
        self.config = config
        self.api = ApiClient(KubeConfig.load(config.kubeconfig))
        self._wake = asyncio.Event()
        self.pods = Informer(self.api, PODS, self._wake.set)
        self.jobs = Informer(self.api, JOBS, self._wake.set)
        self.deployments = Informer(self.api, DEPLOYMENTS, self._wake.set)
        self.replicasets = Informer(self.api, REPLICASETS, self._wake.set)
        node = NodeConfig(
            home=config.home,
            node_name=config.node_name,
            backoff_base=config.restart_backoff_base,
            max_grace=config.max_grace,
            log_interval=config.log_interval,
            pod_network=config.pod_network,
        )
        self.kubelet = Kubelet(self.api, self.pods, node)
        self.controllers = Controllers(
            self.api,
            jobs=self.jobs,
            deployments=self.deployments,
            replicasets=self.replicasets,
            pods=self.pods,
            backoff_base=config.restart_backoff_base,
        )
        self.ready = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Reconcile until ``stop``; always leaves no process of ours behind."""
        informers = [self.pods, self.jobs, self.deployments, self.replicasets]
        tasks = [asyncio.ensure_future(i.run()) for i in informers]
        try:
            killed = await asyncio.to_thread(kill_leftovers, self.config.home)
            if killed:
                log.info("killed %d container processes left by a previous runner", killed)
            await self.kubelet.register_node()
            waiting: asyncio.Future[Any] = asyncio.ensure_future(
                asyncio.gather(*(i.ready.wait() for i in informers))
            )
            stopped = asyncio.ensure_future(stop.wait())
            await asyncio.wait([waiting, stopped], return_when=asyncio.FIRST_COMPLETED)
            waiting.cancel()
            stopped.cancel()
            if not stop.is_set():
                await asyncio.to_thread(self.kubelet.prune_directories)
            self.ready.set()
            log.info("pod runner ready on node %s (home %s)", self.config.node_name, self.config.home)
            while not stop.is_set():
                self._wake.clear()
                await self._pass()
                await asyncio.sleep(self.config.min_interval)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._first(stop), self.config.resync)
        finally:
            await self.kubelet.shutdown()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.api.close()
            log.info("pod runner stopped")

    async def _first(self, stop: asyncio.Event) -> None:
        """Return when woken or stopped."""
        waits = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()

    async def _pass(self) -> None:
        now = datetime.datetime.now(datetime.UTC)
        try:
            await self.controllers.reconcile(now)
        except Exception:
            log.exception("controller pass failed")
        try:
            await self.kubelet.sync()
        except Exception:
            log.exception("kubelet pass failed")
