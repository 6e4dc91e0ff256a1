"""Service controller: ClusterIP/NodePort allocation, the Endpoints of selector Services, and the proxy.

Three informers (Services, Pods, Endpoints) mark Services dirty; one worker reconciles them in turn. A
reconcile is level-based (it reads the caches, never the event), so a missed or repeated event costs nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

from mloop.k8s.errors import AlreadyExists, ApiError, ApiNotFound
from mloop.k8s.gateway import ClusterConnection, KubeGateway, ObjectRef, ResourceType

from .allocator import CLUSTER_IP_RANGE, AllocationError, ClusterIPAllocator, NodePortAllocator
from .endpoints import backends_for_port, build_endpoints, service_port_name
from .informer import Informer, Obj, new_session
from .proxy import ListenerSpec, ServiceProxy

__all__ = ["NODE_HOST", "RETRY_SECONDS", "ServiceController"]

log = logging.getLogger(__name__)

SERVICES = ResourceType("", "v1", "services")
ENDPOINTS = ResourceType("", "v1", "endpoints")
#: NodePorts are the host ports for users: loopback only, like everything in the embedded control plane.
NODE_HOST = "127.0.0.1"
#: A Service whose write or bind failed is reconciled again after this long.
RETRY_SECONDS = 2.0
_NODE_PORT_TYPES = ("NodePort", "LoadBalancer")


class ServiceController:
    """Keeps the proxy, ``spec.clusterIP``/``nodePort`` and ``Endpoints`` in line with Services and Pods."""

    def __init__(
        self,
        connection: ClusterConnection,
        proxy: ServiceProxy | None = None,
        cluster_ip_range: str = CLUSTER_IP_RANGE,
    ) -> None:
        self.proxy = proxy or ServiceProxy()
        # Its own User-Agent: the RBAC usage test tells the operator's calls from everyone else's by it.
        self.gateway = KubeGateway(
            dataclasses.replace(
                connection, extra_headers={**connection.extra_headers, "User-Agent": "mloop-services"}
            )
        )
        self._session = new_session(connection)
        self.services = Informer(self._session, "/api/v1/services", self._on_service)
        self.pods = Informer(self._session, "/api/v1/pods", self._on_pod)
        self.endpoints = Informer(self._session, "/api/v1/endpoints", self._on_endpoints)
        self.cluster_ips = ClusterIPAllocator(cluster_ip_range)
        self.node_ports = NodePortAllocator()
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self._warned: dict[str, str] = {}
        self._tasks: list[asyncio.Task[None]] = []

    # -- events ------------------------------------------------------------------------------------

    def _mark(self, key: str) -> None:
        self._dirty.add(key)
        self._wake.set()

    def _on_service(self, key: str, old: Obj | None, new: Obj | None) -> None:
        self._mark(key)

    def _on_pod(self, key: str, old: Obj | None, new: Obj | None) -> None:
        namespace = key.split("/", 1)[0]
        for service_key in self.services.cache:
            if service_key.split("/", 1)[0] == namespace:
                self._mark(service_key)

    def _on_endpoints(self, key: str, old: Obj | None, new: Obj | None) -> None:
        self._mark(key)

    # -- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """First list (all three), reserve existing addresses, reconcile everything, then watch."""
        for informer in (self.services, self.pods, self.endpoints):
            await informer.sync()
        for key, service in self.services.cache.items():
            self._reserve_existing(key, service)
        await self._drain()
        self._tasks = [
            asyncio.create_task(informer.run()) for informer in (self.services, self.pods, self.endpoints)
        ]
        self._tasks.append(asyncio.create_task(self._work()))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.proxy.close()
        await self._session.close()
        await self.gateway.close()

    def _reserve_existing(self, key: str, service: Obj) -> None:
        """Record what a Service already holds (a collision with another Service is left to the bind)."""
        spec = service.get("spec") or {}
        if spec.get("clusterIP") not in (None, "", "None"):
            with contextlib.suppress(AllocationError):
                self.cluster_ips.reserve(str(spec["clusterIP"]), key)
        for port in spec.get("ports") or ():
            if port.get("nodePort"):
                with contextlib.suppress(AllocationError):
                    self.node_ports.reserve(int(port["nodePort"]), key)

    async def _work(self) -> None:
        while True:
            await self._wake.wait()
            await self._drain()

    async def _drain(self) -> None:
        self._wake.clear()
        while self._dirty:
            key = min(self._dirty)
            self._dirty.discard(key)
            try:
                await self.reconcile(key)
            except ApiError as exc:
                log.warning("%s: %s; retrying in %.0fs", key, exc, RETRY_SECONDS)
                self._retry_later(key)

    def _retry_later(self, key: str) -> None:
        asyncio.get_running_loop().call_later(RETRY_SECONDS, self._mark, key)

    # -- reconcile ---------------------------------------------------------------------------------

    async def reconcile(self, key: str) -> None:
        service = self.services.cache.get(key)
        if service is None:
            await self._forget(key)
            return
        spec = service.get("spec") or {}
        if spec.get("type") == "ExternalName":
            await self.proxy.remove(key)
            return
        service = await self._allocate(key, service)
        spec = service.get("spec") or {}
        endpoints = self.endpoints.cache.get(key)
        if spec.get("selector"):
            endpoints = await self._write_endpoints(key, service, endpoints)
        errors = await self.proxy.sync(key, self._listener_specs(service, endpoints))
        if errors:
            await self._warn(service, "; ".join(errors))
            self._retry_later(key)

    async def _forget(self, key: str) -> None:
        """Service gone: close its listeners, free its address and ports, delete the managed Endpoints."""
        await self.proxy.remove(key)
        self.cluster_ips.release(key)
        self.node_ports.release(key)
        self._warned.pop(key, None)
        if key in self.endpoints.cache:
            namespace, name = key.split("/", 1)
            await self.gateway.delete(ENDPOINTS, namespace, name)

    async def _allocate(self, key: str, service: Obj) -> Obj:
        """Fill in an empty ``clusterIP`` and missing ``nodePort``s; one patch guarded by resourceVersion."""
        spec = service.get("spec") or {}
        self._reserve_existing(key, service)
        patch: dict[str, Any] = {}
        cluster_ip = spec.get("clusterIP")
        if not cluster_ip:
            cluster_ip = self.cluster_ips.allocate(key)
            patch["clusterIP"] = cluster_ip
            patch["clusterIPs"] = [cluster_ip]
        ports = [dict(p) for p in spec.get("ports") or ()]
        if spec.get("type") in _NODE_PORT_TYPES:
            for port in ports:
                if not port.get("nodePort"):
                    port["nodePort"] = self.node_ports.allocate(key)
                    patch["ports"] = ports
            self.node_ports.retain(key, (int(p["nodePort"]) for p in ports))
        else:
            self.node_ports.release(key)
        if cluster_ip not in (None, "None"):
            self.cluster_ips.retain(key, (str(cluster_ip),))
        if not patch:
            return service
        meta = service["metadata"]
        body = {"metadata": {"resourceVersion": meta["resourceVersion"]}, "spec": patch}
        updated = await self.gateway.patch(SERVICES, meta["namespace"], meta["name"], body)
        log.info("%s: clusterIP %s%s", key, updated["spec"].get("clusterIP"), _node_ports_text(updated))
        self.services.cache[key] = updated
        return updated

    async def _write_endpoints(self, key: str, service: Obj, current: Obj | None) -> Obj:
        """Create or update the Endpoints when its subsets or labels differ from the desired ones."""
        desired = build_endpoints(service, self.pods.cache.values())
        namespace, name = key.split("/", 1)
        if current is None:
            try:
                created = await self.gateway.create(ENDPOINTS, namespace, desired)
            except AlreadyExists:
                self._retry_later(key)
                return desired
            self.endpoints.cache[key] = created
            return created
        same_labels = ((current.get("metadata") or {}).get("labels") or {}) == desired["metadata"]["labels"]
        if same_labels and (current.get("subsets") or []) == desired.get("subsets", []):
            return current
        current_labels = (current.get("metadata") or {}).get("labels") or {}
        labels = _labels_patch(current_labels, desired["metadata"]["labels"])
        patch = {
            "metadata": {"resourceVersion": current["metadata"]["resourceVersion"], "labels": labels},
            "subsets": desired.get("subsets"),
        }
        try:
            updated = await self.gateway.patch(ENDPOINTS, namespace, name, patch)
        except ApiNotFound:
            self.endpoints.cache.pop(key, None)
            self._mark(key)
            return desired
        self.endpoints.cache[key] = updated
        return updated

    def _listener_specs(self, service: Obj, endpoints: Obj | None) -> list[ListenerSpec]:
        spec = service.get("spec") or {}
        cluster_ip = spec.get("clusterIP")
        if not cluster_ip or cluster_ip == "None":
            return []  # headless: DNS-only in Kubernetes, nothing to proxy
        subsets = (endpoints or {}).get("subsets")
        specs = []
        for port in spec.get("ports") or ():
            if port.get("protocol", "TCP") != "TCP":
                continue
            backends = tuple(backends_for_port(subsets, service_port_name(port)))
            specs.append(ListenerSpec(str(cluster_ip), int(port["port"]), backends))
            if spec.get("type") in _NODE_PORT_TYPES and port.get("nodePort"):
                specs.append(ListenerSpec(NODE_HOST, int(port["nodePort"]), backends))
        return specs

    async def _warn(self, service: Obj, message: str) -> None:
        """A Warning Event on the Service, once per distinct message (bind errors repeat every retry)."""
        key = f"{service['metadata']['namespace']}/{service['metadata']['name']}"
        if self._warned.get(key) == message:
            return
        self._warned[key] = message
        log.warning("%s: %s", key, message)
        with contextlib.suppress(ApiError):
            await self.gateway.record_event(
                ObjectRef.of({**service, "apiVersion": "v1", "kind": "Service"}),
                type_="Warning",
                reason="ListenFailed",
                message=message,
            )


def _labels_patch(current: Mapping[str, str], desired: Mapping[str, str]) -> dict[str, str | None]:
    """A merge patch turning ``current`` labels into ``desired`` (null removes a key)."""
    patch: dict[str, str | None] = {key: None for key in current if key not in desired}
    patch.update(desired)
    return patch


def _node_ports_text(service: Obj) -> str:
    ports = [str(p["nodePort"]) for p in service["spec"].get("ports") or () if p.get("nodePort")]
    return f", nodePorts {', '.join(ports)} on {NODE_HOST}" if ports else ""
