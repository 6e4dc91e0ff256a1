"""Table tests of the pure parts of the Service proxy: allocation and the endpoints arithmetic."""

from __future__ import annotations

from typing import Any

import pytest

from mloop.local.services.allocator import AllocationError, ClusterIPAllocator, NodePortAllocator
from mloop.local.services.endpoints import (
    Backend,
    backends_for_port,
    build_endpoints,
    build_subsets,
    pod_is_ready,
    resolve_target_port,
    selector_matches,
)


def pod(
    name: str,
    ip: str | None = "127.1.0.2",
    *,
    labels: dict[str, str] | None = None,
    phase: str = "Running",
    ready: bool | None = True,
    ports: list[dict[str, Any]] | None = None,
    namespace: str = "ns",
    deleting: bool = False,
) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase}
    if ip:
        status["podIP"] = ip
    if ready is not None:
        status["conditions"] = [{"type": "Ready", "status": str(ready)}]
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "uid": f"uid-{name}"}
    meta["labels"] = {"app": "m"} if labels is None else labels
    if deleting:
        meta["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    spec = {"containers": [{"name": "c", "ports": ports or [{"name": "http", "containerPort": 8080}]}]}
    return {"metadata": meta, "spec": spec, "status": status}


def service(ports: list[dict[str, Any]] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "svc", "namespace": "ns", "labels": {"team": "a"}},
        "spec": {"selector": {"app": "m"}, "ports": ports or [{"name": "http", "port": 80}], **spec},
    }


def test_cluster_ips_in_order_skip_reserved_and_do_not_reuse_at_once() -> None:
    alloc = ClusterIPAllocator("127.2.0.0/29")  # 6 hosts: .1 … .6
    alloc.reserve("127.2.0.2", "ns/existing")
    assert [alloc.allocate(f"ns/s{i}") for i in range(3)] == ["127.2.0.1", "127.2.0.3", "127.2.0.4"]
    alloc.release("ns/s0")
    assert alloc.allocate("ns/s3") == "127.2.0.5"  # the cursor moves on; .1 comes back only after a wrap
    assert alloc.allocate("ns/s4") == "127.2.0.6"
    assert alloc.allocate("ns/s5") == "127.2.0.1"
    with pytest.raises(AllocationError):
        alloc.allocate("ns/s6")
    with pytest.raises(AllocationError, match="already allocated to ns/existing"):
        alloc.reserve("127.2.0.2", "ns/other")
    alloc.reserve("10.0.0.1", "ns/outside")  # outside the range: not tracked, no error
    assert alloc.owner_of("10.0.0.1") is None


def test_node_ports_retain_and_release() -> None:
    ports = NodePortAllocator(30000, 30003)
    a, b = ports.allocate("ns/a"), ports.allocate("ns/a")
    assert (a, b) == (30000, 30001)
    ports.retain("ns/a", [30001])
    assert ports.held_by("ns/a") == {30001}
    assert ports.allocate("ns/b") == 30002
    ports.release("ns/a")
    assert ports.held_by("ns/a") == set()


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ({"app": "m"}, {"app": "m", "track": "canary"}, True),
        ({"app": "m", "track": "stable"}, {"app": "m", "track": "canary"}, False),
        ({}, {"app": "m"}, False),
        (None, {"app": "m"}, False),
        ({"app": "m"}, None, False),
    ],
)
def test_selector_matches(selector: Any, labels: Any, expected: bool) -> None:
    assert selector_matches(selector, labels) is expected


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, True),
        ({"ready": False}, False),
        ({"ready": None}, False),
        ({"phase": "Pending"}, False),
        ({"ip": None}, False),
    ],
)
def test_pod_is_ready(kwargs: dict[str, Any], expected: bool) -> None:
    assert pod_is_ready(pod("p", **kwargs)) is expected


@pytest.mark.parametrize(
    ("service_port", "expected"),
    [
        ({"port": 80, "targetPort": 9000}, 9000),
        ({"port": 80, "targetPort": "9001"}, 9001),
        ({"port": 80, "targetPort": "http"}, 8080),
        ({"port": 80, "targetPort": "metrics"}, None),
        ({"port": 80, "targetPort": "http", "protocol": "UDP"}, None),
        ({"port": 80}, 80),
    ],
)
def test_resolve_target_port(service_port: dict[str, Any], expected: int | None) -> None:
    assert resolve_target_port(service_port, pod("p")) == expected


def test_subsets_split_ready_and_not_ready_and_skip_the_rest() -> None:
    pods = [
        pod("b", "127.1.0.10"),
        pod("a", "127.1.0.9"),
        pod("starting", "127.1.0.11", ready=False),
        pod("pending", "127.1.0.12", phase="Pending", ready=None),
        pod("noip", None),
        pod("done", "127.1.0.13", phase="Succeeded"),
        pod("going", "127.1.0.14", deleting=True),
        pod("other", "127.1.0.15", labels={"app": "x"}),
        pod("elsewhere", "127.1.0.16", namespace="other"),
    ]
    (subset,) = build_subsets(service([{"name": "http", "port": 80, "targetPort": "http"}]), pods)
    assert [a["ip"] for a in subset["addresses"]] == ["127.1.0.9", "127.1.0.10"]  # numeric order
    assert [a["targetRef"]["name"] for a in subset["notReadyAddresses"]] == ["starting", "pending"]
    assert subset["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]


def test_subsets_group_pods_by_resolved_ports_and_publish_not_ready() -> None:
    old = pod("old", "127.1.0.2", ports=[{"name": "http", "containerPort": 8080}])
    new = pod("new", "127.1.0.3", ports=[{"name": "http", "containerPort": 9090}], ready=False)
    svc = service([{"name": "http", "port": 80, "targetPort": "http"}], publishNotReadyAddresses=True)
    subsets = build_subsets(svc, [old, new])
    assert [(s["ports"][0]["port"], [a["ip"] for a in s["addresses"]]) for s in subsets] == [
        (8080, ["127.1.0.2"]),
        (9090, ["127.1.0.3"]),
    ]
    assert backends_for_port(subsets, "http") == [Backend("127.1.0.2", 8080), Backend("127.1.0.3", 9090)]


def test_endpoints_object_without_pods_has_no_subsets_and_headless_label() -> None:
    body = build_endpoints(service(clusterIP="None"), [])
    assert body == {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {
            "name": "svc",
            "namespace": "ns",
            "labels": {"team": "a", "service.kubernetes.io/headless": ""},
        },
    }


def test_backends_by_port_name_ignore_not_ready_and_udp() -> None:
    subsets = [
        {
            "addresses": [{"ip": "127.1.0.3"}, {"ip": "127.1.0.2"}],
            "notReadyAddresses": [{"ip": "127.1.0.4"}],
            "ports": [{"name": "http", "port": 8080}, {"name": "dns", "port": 53, "protocol": "UDP"}],
        }
    ]
    assert backends_for_port(subsets, "http") == [Backend("127.1.0.2", 8080), Backend("127.1.0.3", 8080)]
    assert backends_for_port(subsets, "dns") == []
    assert backends_for_port(subsets, "metrics") == []
    assert backends_for_port(None, "http") == []
