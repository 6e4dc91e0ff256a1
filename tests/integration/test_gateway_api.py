"""``traffic.mode: gateway-api`` on the embedded control plane, with a structural HTTPRoute CRD installed in
the emulator (no Gateway controller runs: the route the operator writes is what a Gateway would obey).

The weights are recorded through real watches, so every version of the route is seen however short a step
is: they follow the canary steps exactly (not a replica ratio) and end at 100/0 on the promoted version, each
track keeps a pod while the canary runs, and switching back to ``replicas`` mode removes the route and the
per-track Services. Without the CRD the deployment says so in one clear condition and one Warning, and
recovers when the CRD appears.
"""

from __future__ import annotations

from itertools import groupby
from pathlib import Path
from typing import Any

import pytest

from mloop.local.datasets import credit_csv
from tests.integration.test_canary_rollback import API, deployment, example, trained
from tests.support.examples import small_project
from tests.support.kube import KubeError, condition, wait_for
from tests.support.plane import Plane
from tests.support.s3 import upload
from tests.support.watch import Recorder

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
CRD = ROOT / "tests" / "data" / "gateway-api" / "httproutes-crd.yaml"
NS = "/namespaces/default"
ROUTES = f"/apis/gateway.networking.k8s.io/v1{NS}/httproutes"
GATEWAY = {"mode": "gateway-api", "gatewayRef": {"name": "public", "namespace": "infra"}}
CHILDREN = {"httproutes", "services", "deployments", "poddisruptionbudgets", "horizontalpodautoscalers"}


def create_project(plane: Plane) -> None:
    small_project(plane, "datasets/usual.csv", min_roc_auc=0.7)


def ready_reason(plane: Plane) -> str | None:
    ready = condition(deployment(plane), "Ready")
    return ready["reason"] if ready else None


def discoveries(plane: Plane) -> int:
    """The operator asks discovery once per reconcile of a gateway-api deployment."""
    return sum(
        1
        for r in list(plane.apiserver.server.request_log)
        if r.path == "/apis/gateway.networking.k8s.io/v1" and r.user_agent.startswith("mloop-operator/")
    )


def weights(route: dict[str, Any]) -> tuple[int, int]:
    backends = {b["name"]: b["weight"] for b in route["spec"]["rules"][0]["backendRefs"]}
    return backends["credit-stable"], backends["credit-canary"]


def test_without_the_httproute_crd_the_deployment_says_so_once(plane: Plane) -> None:
    create_project(plane)
    md = example("modeldeployment.yaml")
    md["spec"]["traffic"] = GATEWAY
    plane.kube.create(md)
    wait_for(lambda: ready_reason(plane) == "GatewayAPIUnavailable", timeout=60, what="the condition")
    ready = condition(deployment(plane), "Ready")
    assert ready is not None
    assert ready["status"] == "False"
    assert "HTTPRoute (gateway.networking.k8s.io/v1)" in ready["message"], ready
    # Later reconciles (each asks discovery again) keep the condition and post no second Warning.
    seen = discoveries(plane)
    wait_for(lambda: discoveries(plane) >= seen + 3, timeout=60, what="three more reconciles")
    assert ready_reason(plane) == "GatewayAPIUnavailable"
    events = [
        (e["type"], e["reason"])
        for e in plane.kube.events_for("credit")
        if e["involvedObject"]["kind"] == "ModelDeployment"
    ]
    assert events.count(("Warning", "GatewayAPIUnavailable")) == 1, events
    assert 'mloop_reconcile_errors_total{kind="ModelDeployment"' not in plane.operator.metrics()

    # The CRD appears: the next resync notices, and the deployment only waits for a version now.
    plane.kube.apply_files([CRD])
    wait_for(lambda: ready_reason(plane) == "NoVersion", timeout=60, what="the condition cleared")


def test_route_weights_follow_the_canary_steps_and_end_on_the_promoted_version(plane: Plane) -> None:
    plane.kube.apply_files([CRD])
    create_project(plane)
    upload(plane.s3, plane.bucket, "datasets/flipped.csv", credit_csv(1500, seed=8, concept=1.0))
    v1 = trained(plane, "usual")

    md = example("modeldeployment.yaml")
    md["spec"]["replicas"] = 1
    md["spec"]["traffic"] = {**GATEWAY, "hostnames": ["credit.example.com"]}
    md["spec"]["canary"] = {
        "steps": [
            {"weight": 20, "pause": "3s"},
            {"weight": 60, "pause": "3s"},
            {"weight": 100, "pause": "3s"},
        ],
        "analysis": {"interval": "1s", "minRequests": 0},
    }
    routes = Recorder(plane.apiserver.url, ROUTES)
    statuses = Recorder(plane.apiserver.url, f"/apis/{API}{NS}/modeldeployments")
    pods = Recorder(plane.apiserver.url, f"/apis/apps/v1{NS}/deployments")
    with routes, statuses, pods:
        plane.kube.create(md)
        wait_for(
            lambda: (
                deployment(plane).get("status", {}).get("readyReplicas", 0) >= 1
                and deployment(plane)["status"].get("stableVersion") == v1
            ),
            timeout=90,
            what=f"{v1} served",
        )
        # The flipped model wins its own gate and becomes champion: alias champion starts the canary.
        v2 = trained(plane, "flipped", data={"uri": f"s3://{plane.bucket}/datasets/flipped.csv"})

        def promoted() -> dict[str, Any] | None:
            status = deployment(plane).get("status", {})
            history = status.get("history") or []
            return status if history and history[-1]["action"] == "promoted" else None

        status = wait_for(promoted, timeout=120, interval=0.5, what="the promotion")
    assert (status["history"][-1]["fromVersion"], status["history"][-1]["toVersion"]) == (v1, v2)
    # Settled: the next reconciles read the route and the Services and write none of the children.
    mark, seen = len(plane.apiserver.server.request_log), discoveries(plane)
    wait_for(lambda: discoveries(plane) >= seen + 3, timeout=60, what="three more reconciles")
    writes = [
        f"{r.verb} {r.resource}/{r.name}"
        for r in list(plane.apiserver.server.request_log)[mark:]
        if r.is_write and r.user_agent.startswith("mloop-operator/") and r.resource in CHILDREN
    ]
    assert not writes, writes
    assert status["stableVersion"] == v2
    assert not status.get("canaryVersion")

    steps = [key for key, _ in groupby(weights(r) for r in routes.objects("credit"))]
    assert steps == [(100, 0), (80, 20), (40, 60), (0, 100), (100, 0)], steps
    route = plane.kube.request("GET", f"{ROUTES}/credit")
    assert weights(route) == (100, 0)
    assert route["spec"]["parentRefs"][0]["name"] == "public"
    assert route["spec"]["hostnames"] == ["credit.example.com"]
    assert route["metadata"]["ownerReferences"][0]["kind"] == "ModelDeployment"
    service = plane.kube.request("GET", "/api/v1/namespaces/default/services/credit-stable")
    assert service["spec"]["selector"]["mloop.io/version"] == v2  # the route's 100 goes to the promoted one

    # Status reported the share written in the route at every step.
    shares = {
        (s["canaryWeight"], s.get("canaryTrafficShare"))
        for s in (obj.get("status", {}) for obj in statuses.objects("credit"))
        if s.get("canaryVersion") and "canaryTrafficShare" in s
    }
    assert {(20, 0.2), (60, 0.6), (100, 1.0)} <= shares, shares
    assert all(share == weight / 100 for weight, share in shares), shares

    # Each track kept a pod while the canary ran, even at 100% (the old stable went to zero only after).
    canary_states = [
        o
        for o in pods.objects(f"credit-{v2}")
        if o["spec"]["template"]["metadata"]["labels"]["mloop.io/role"] == "canary"
    ]
    assert canary_states
    assert all(o["spec"]["replicas"] >= 1 for o in canary_states)
    order = [obj for _, obj in pods.events]
    promoted_at = next(
        n
        for n, o in enumerate(order)
        if o["metadata"]["name"] == f"credit-{v2}"
        and o["spec"]["template"]["metadata"]["labels"]["mloop.io/role"] == "stable"
    )
    before = [o["spec"]["replicas"] for o in order[:promoted_at] if o["metadata"]["name"] == f"credit-{v1}"]
    assert before, pods.events
    assert min(before) == 1, before

    # Back to replicas mode: the route and the per-track Services go, the Service spans every version again.
    plane.kube.request(
        "PATCH",
        f"/apis/{API}{NS}/modeldeployments/credit",
        {"spec": {"traffic": {"mode": "replicas"}}},
        content_type="application/merge-patch+json",
    )

    def route_gone() -> bool:
        try:
            plane.kube.request("GET", f"{ROUTES}/credit")
        except KubeError as exc:
            return exc.status == 404
        return False

    wait_for(route_gone, timeout=60, what="the HTTPRoute removed")
    wait_for(
        lambda: {s["metadata"]["name"] for s in plane.kube.list("v1", "Service")} == {"credit"},
        timeout=60,
        what="only the Service credit left",
    )
    wait_for(
        lambda: (
            plane.kube.request("GET", "/api/v1/namespaces/default/services/credit")["spec"]["selector"]
            == {"mloop.io/deployment": "credit"}
        ),
        timeout=60,
        what="the Service spanning every version",
    )
    assert condition(deployment(plane), "Ready")["status"] == "True"  # type: ignore[index]

    # With autoscaling the HPA owns the stable track: a count it chose survives the operator's reconciles.
    plane.kube.request(
        "PATCH",
        f"/apis/{API}{NS}/modeldeployments/credit",
        {"spec": {"autoscaling": {"minReplicas": 1, "maxReplicas": 3}}},
        content_type="application/merge-patch+json",
    )
    hpa_path = f"/apis/autoscaling/v2{NS}/horizontalpodautoscalers/credit"
    wait_for(lambda: _exists(plane, hpa_path), timeout=60, what="the HorizontalPodAutoscaler")
    plane.kube.request(  # what the HPA controller does when load rises
        "PATCH",
        f"/apis/apps/v1{NS}/deployments/credit-{v2}",
        {"spec": {"replicas": 2}},
        content_type="application/merge-patch+json",
    )

    def reads() -> int:  # each reconcile reads the stable Deployment twice (its replicas, then the upsert)
        return sum(
            1
            for r in list(plane.apiserver.server.request_log)
            if r.verb == "get"
            and r.resource == "deployments"
            and r.name == f"credit-{v2}"
            and r.user_agent.startswith("mloop-operator/")
        )

    seen = reads()
    wait_for(lambda: reads() >= seen + 6, timeout=60, what="three more reconciles")
    stable = plane.kube.request("GET", f"/apis/apps/v1{NS}/deployments/credit-{v2}")
    assert stable["spec"]["replicas"] == 2


def _exists(plane: Plane, path: str) -> bool:
    try:
        plane.kube.request("GET", path)
    except KubeError as exc:
        if exc.status == 404:
            return False
        raise
    return True
