"""Services on loopback with real sockets: the ``python -m mloop.local.services`` process against the
emulator, Pods written through the API (as the pod runner would) and HTTP servers bound to their addresses.
"""

from __future__ import annotations

import http.client
import socket
from collections.abc import Callable

import pytest

from tests.local.netsupport import (
    PodServer,
    ServicesProcess,
    add_pod,
    cluster_ip,
    endpoints,
    fetch,
    ready_ips,
    service_body,
    set_pod_status,
    spread,
    wait_serving,
)
from tests.support.kube import Kube, KubeError, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

StartPod = Callable[[str, str], PodServer]
APP = {"app": "model"}


def ip(n: int) -> str:
    """Pod addresses for these tests: 127.1.200.n, away from the pod runner's first addresses."""
    return f"127.1.200.{n}"


def test_spreads_1000_connections_evenly_over_3_ready_pods(
    kube: Kube, services: ServicesProcess, pod_servers: StartPod
) -> None:
    names = {f"model-{i}" for i in range(3)}
    for i, name in enumerate(sorted(names)):
        pod_servers(name, ip(i + 1))
        add_pod(kube, name, APP, ip(i + 1))
    kube.create(service_body("model", APP))
    address = cluster_ip(kube, "model")
    assert address.startswith("127.2.")
    assert kube.get("v1", "Service", "model")["spec"]["clusterIPs"] == [address]
    wait_serving(address, 8080, names)

    counts = spread(address, 8080, 1000)

    assert set(counts) == names
    for name in names:
        assert 0.25 <= counts[name] / 1000 <= 0.42, counts


def test_stable_canary_9_to_1_replicas_gives_canary_10_percent(
    kube: Kube, services: ServicesProcess, pod_servers: StartPod
) -> None:
    # Two Deployments' pods (stable and canary tracks) behind one Service selecting only app=model.
    names = {f"model-stable-{i}" for i in range(9)} | {"model-canary-0"}
    for i, name in enumerate(sorted(names)):
        pod_servers(name, ip(10 + i))
        track = "canary" if "canary" in name else "stable"
        add_pod(kube, name, {**APP, "track": track}, ip(10 + i))
    kube.create(service_body("model", APP))
    address = cluster_ip(kube, "model")
    wait_serving(address, 8080, names)

    counts = spread(address, 8080, 1000)

    canary = counts["model-canary-0"] / 1000
    assert 0.06 <= canary <= 0.14, counts
    assert sum(counts.values()) == 1000


def test_not_ready_pod_gets_no_traffic_and_is_listed_not_ready(
    kube: Kube, services: ServicesProcess, pod_servers: StartPod
) -> None:
    for i in range(3):
        pod_servers(f"model-{i}", ip(30 + i))
    add_pod(kube, "model-0", APP, ip(30))
    add_pod(kube, "model-1", APP, ip(31))
    add_pod(kube, "model-2", APP, ip(32), ready=False)  # a failing readiness probe
    kube.create(service_body("model", APP))
    address = cluster_ip(kube, "model")
    wait_serving(address, 8080, {"model-0", "model-1"})

    counts = spread(address, 8080, 200)

    assert counts["model-2"] == 0
    assert counts["model-0"] == counts["model-1"] == 100
    (subset,) = endpoints(kube, "model")["subsets"]
    assert [a["ip"] for a in subset["addresses"]] == [ip(30), ip(31)]
    (not_ready,) = subset["notReadyAddresses"]
    assert not_ready["ip"] == ip(32)
    assert not_ready["targetRef"]["name"] == "model-2"

    set_pod_status(kube, "model-2", ip(32), ready=True)  # the probe passes: it joins
    wait_serving(address, 8080, {"model-0", "model-1", "model-2"})
    assert "notReadyAddresses" not in endpoints(kube, "model")["subsets"][0]


def test_scaling_keeps_established_connections(
    kube: Kube, services: ServicesProcess, pod_servers: StartPod
) -> None:
    pod_servers("model-0", ip(40))
    add_pod(kube, "model-0", APP, ip(40))
    kube.create(service_body("model", APP))
    address = cluster_ip(kube, "model")
    wait_serving(address, 8080, {"model-0"})
    kept = http.client.HTTPConnection(address, 8080, timeout=5)  # keep-alive: one connection, many requests
    kept.request("GET", "/")
    assert kept.getresponse().read() == b"model-0"

    for i in (1, 2):  # scale up: new connections reach the new pods, the open one stays put
        pod_servers(f"model-{i}", ip(40 + i))
        add_pod(kube, f"model-{i}", APP, ip(40 + i))
    wait_serving(address, 8080, {"model-0", "model-1", "model-2"})
    kept.request("GET", "/")
    assert kept.getresponse().read() == b"model-0"

    for i in (1, 2):  # scale down to the pod the open connection uses
        kube.request("DELETE", kube.path("v1", "Pod", "default", f"model-{i}"))
    wait_for(lambda: ready_ips(kube, "model") == [ip(40)], timeout=10, what="endpoints shrink")
    wait_serving(address, 8080, {"model-0"})
    for _ in range(3):
        kept.request("GET", "/")
        assert kept.getresponse().read() == b"model-0"
    kept.close()


def test_no_ready_endpoint_resets_new_connections(kube: Kube, services: ServicesProcess) -> None:
    kube.create(service_body("empty", APP))
    address = cluster_ip(kube, "empty")
    wait_for(lambda: _accepts(address, 8080), timeout=10, what="listener")
    # RST, not an orderly close: like a ClusterIP without endpoints.
    with socket.create_connection((address, 8080), timeout=5) as sock, pytest.raises(ConnectionResetError):
        sock.recv(1024)
    assert "subsets" not in endpoints(kube, "empty")


def test_nodeport_is_allocated_and_reachable_on_localhost(
    kube: Kube, services: ServicesProcess, pod_servers: StartPod
) -> None:
    pod_servers("model-0", ip(50))
    add_pod(kube, "model-0", APP, ip(50))
    kube.create(service_body("public", APP, type_="NodePort", target=8080))
    node_port = wait_for(
        lambda: kube.get("v1", "Service", "public")["spec"]["ports"][0].get("nodePort"), timeout=10
    )
    assert 30000 <= node_port <= 32767
    wait_serving("127.0.0.1", node_port, {"model-0"})
    assert fetch(cluster_ip(kube, "public"), 8080) == "model-0"


def test_endpoints_object_and_service_deletion(
    kube: Kube, services: ServicesProcess, pod_servers: StartPod
) -> None:
    pod = add_pod(kube, "model-0", APP, ip(60))
    add_pod(kube, "other", {"app": "other"}, ip(61))
    kube.create(service_body("model", APP, port=9090, target="http"))  # named targetPort → 8080
    wait_for(lambda: ready_ips(kube, "model") == [ip(60)], timeout=10, what="endpoints")

    body = endpoints(kube, "model")
    assert body["metadata"]["labels"] == {"app.kubernetes.io/name": "model"}
    assert body["subsets"] == [
        {
            "addresses": [
                {
                    "ip": ip(60),
                    "nodeName": "mloop-local",
                    "targetRef": {
                        "kind": "Pod",
                        "namespace": "default",
                        "name": "model-0",
                        "uid": pod["metadata"]["uid"],
                    },
                }
            ],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        }
    ]
    address = cluster_ip(kube, "model")
    pod_servers("model-0", ip(60))
    wait_serving(address, 9090, {"model-0"})

    kube.request("DELETE", kube.path("v1", "Service", "default", "model"))
    wait_for(lambda: not _accepts(address, 9090), timeout=10, what="listener closed")
    wait_for(lambda: _missing(kube, "model"), timeout=10, what="endpoints deleted")


def _accepts(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


def _missing(kube: Kube, name: str) -> bool:
    try:
        endpoints(kube, name)
        return False
    except KubeError as exc:
        return exc.status == 404
