"""The endpoints controller's arithmetic: a Service and the Pods of its namespace in, ``Endpoints`` out.

Pure functions on plain dicts, so the rules (which pod is ready, how a named ``targetPort`` resolves, how
addresses group into subsets) are table-tested without a server. The proxy reads its backends from the same
``Endpoints`` shape, exactly as kube-proxy does, so Services without a selector (whose Endpoints a user
writes by hand) are proxied too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Backend",
    "backends_for_port",
    "build_endpoints",
    "build_subsets",
    "pod_is_ready",
    "resolve_target_port",
    "selector_matches",
    "service_port_name",
]

Obj = Mapping[str, Any]
_TERMINAL_PHASES = ("Succeeded", "Failed")


@dataclass(frozen=True, order=True)
class Backend:
    """One place a proxied connection can go."""

    host: str
    port: int


def selector_matches(selector: Mapping[str, str] | None, labels: Mapping[str, str] | None) -> bool:
    """Equality-based Service selector; an empty or missing one selects nothing (no managed Endpoints)."""
    if not selector:
        return False
    labels = labels or {}
    return all(labels.get(key) == value for key, value in selector.items())


def pod_is_ready(pod: Obj) -> bool:
    """Running, with a ``Ready=True`` condition and an address: the only pods that get traffic."""
    status = pod.get("status") or {}
    if status.get("phase") != "Running" or not status.get("podIP"):
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or ())


def service_port_name(port: Obj) -> str:
    return str(port.get("name") or "")


def resolve_target_port(service_port: Obj, pod: Obj) -> int | None:
    """``targetPort`` as a number, a numeric string, or a container port name; defaults to ``port``."""
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = service_port.get("protocol", "TCP")
    for container in (pod.get("spec") or {}).get("containers") or ():
        for cport in container.get("ports") or ():
            if cport.get("name") == target and cport.get("protocol", "TCP") == protocol:
                return int(cport["containerPort"])
    return None


def _address(pod: Obj) -> dict[str, Any]:
    meta = pod.get("metadata") or {}
    address: dict[str, Any] = {"ip": pod["status"]["podIP"]}
    node = (pod.get("spec") or {}).get("nodeName")
    if node:
        address["nodeName"] = node
    address["targetRef"] = {
        "kind": "Pod",
        "namespace": meta.get("namespace", ""),
        "name": meta.get("name", ""),
        "uid": meta.get("uid", ""),
    }
    return address


def build_subsets(service: Obj, pods: Iterable[Obj]) -> list[dict[str, Any]]:
    """Subsets as the endpoints controller writes them: pods grouped by their resolved port set.

    A pod is skipped when it has no address, is terminating or finished, or resolves none of the ports.
    Ready pods go to ``addresses``, the others (starting, failing a readiness probe) to
    ``notReadyAddresses`` unless the Service sets ``publishNotReadyAddresses``.
    """
    spec = service.get("spec") or {}
    namespace = (service.get("metadata") or {}).get("namespace")
    publish_all = bool(spec.get("publishNotReadyAddresses"))
    groups: dict[tuple[tuple[str, int, str], ...], tuple[list[Obj], list[Obj]]] = {}
    for pod in pods:
        meta = pod.get("metadata") or {}
        status = pod.get("status") or {}
        if meta.get("namespace") != namespace or not selector_matches(
            spec.get("selector"), meta.get("labels")
        ):
            continue
        if (
            not status.get("podIP")
            or meta.get("deletionTimestamp")
            or status.get("phase") in _TERMINAL_PHASES
        ):
            continue
        ports = []
        for sport in spec.get("ports") or ():
            target = resolve_target_port(sport, pod)
            if target is not None:
                ports.append((service_port_name(sport), target, str(sport.get("protocol", "TCP"))))
        if not ports:
            continue
        ready, not_ready = groups.setdefault(tuple(ports), ([], []))
        (ready if publish_all or pod_is_ready(pod) else not_ready).append(pod)
    subsets = []
    for ports_key, (ready, not_ready) in sorted(groups.items()):
        subset: dict[str, Any] = {}
        if ready:
            subset["addresses"] = sorted((_address(p) for p in ready), key=_ip_key)
        if not_ready:
            subset["notReadyAddresses"] = sorted((_address(p) for p in not_ready), key=_ip_key)
        subset["ports"] = [
            {**({"name": name} if name else {}), "port": port, "protocol": protocol}
            for name, port, protocol in ports_key
        ]
        subsets.append(subset)
    return subsets


def _ip_key(address: Mapping[str, Any]) -> tuple[int, ...]:
    return tuple(int(part) for part in str(address["ip"]).split(".") if part.isdigit())


def build_endpoints(service: Obj, pods: Iterable[Obj]) -> dict[str, Any]:
    """The whole ``Endpoints`` of a selector Service (same name and namespace, the Service's labels)."""
    meta = service.get("metadata") or {}
    labels = dict(meta.get("labels") or {})
    if (service.get("spec") or {}).get("clusterIP") == "None":
        labels["service.kubernetes.io/headless"] = ""
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": meta["name"], "namespace": meta["namespace"], "labels": labels},
    }
    subsets = build_subsets(service, pods)
    if subsets:
        body["subsets"] = subsets
    return body


def backends_for_port(subsets: Sequence[Obj] | None, port_name: str) -> list[Backend]:
    """Ready addresses serving the Service port named ``port_name`` (what kube-proxy programs)."""
    backends: list[Backend] = []
    for subset in subsets or ():
        for eport in subset.get("ports") or ():
            if str(eport.get("name") or "") == port_name and eport.get("protocol", "TCP") == "TCP":
                backends.extend(
                    Backend(str(a["ip"]), int(eport["port"])) for a in subset.get("addresses") or ()
                )
    return sorted(set(backends), key=lambda b: (_ip_key({"ip": b.host}), b.port))
