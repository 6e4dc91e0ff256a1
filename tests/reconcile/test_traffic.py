"""``gateway-api`` traffic as tables: route weights, replicas per track, the Services, the HTTPRoute, and
which rollout moves wait while the cluster serves no HTTPRoute."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from mloop.reconcile.canary import Decision, Split
from mloop.reconcile.traffic import (
    GATEWAY_UNAVAILABLE,
    RouteWeights,
    autoscaled_split,
    build_httproute,
    build_service,
    build_track_service,
    hold_rollout,
    route_weights,
    track_split,
)

ROOT = Path(__file__).resolve().parents[2]


def md_body(**traffic: Any) -> dict[str, Any]:
    body: dict[str, Any] = copy.deepcopy(
        yaml.safe_load((ROOT / "examples" / "modeldeployment.yaml").read_text())
    )
    body["metadata"].update(namespace="team", uid="0000-3333")
    if traffic:
        body["spec"]["traffic"] = traffic
    return body


GATEWAY = {
    "mode": "gateway-api",
    "gatewayRef": {"name": "public", "namespace": "infra", "sectionName": "https"},
}


@pytest.mark.parametrize(
    ("canary", "weight", "stable_weight", "canary_weight", "share"),
    [
        (None, 0, 100, 0, 0.0),  # settled, promoted or rolled back: everything to stable
        (None, 50, 100, 0, 0.0),  # a leftover weight without a canary means nothing
        ("v2", 0, 100, 0, 0.0),
        ("v2", 10, 90, 10, 0.1),
        ("v2", 33, 67, 33, 0.33),  # exact, not rounded to a replica ratio
        ("v2", 100, 0, 100, 1.0),
    ],
)
def test_route_weights(
    canary: str | None, weight: int, stable_weight: int, canary_weight: int, share: float
) -> None:
    weights = route_weights(canary, weight)
    assert weights == RouteWeights(stable_weight, canary_weight)
    assert weights.share == pytest.approx(share)


@pytest.mark.parametrize(
    ("total", "weight", "running", "exact", "stable", "canary"),
    [
        # replicas mode: the ratio is the split (as replica_split)
        (4, 25, True, False, 3, 1),
        (4, 100, True, False, 0, 4),
        (4, 60, False, False, 4, 0),
        # gateway-api: at least one pod per track while a canary runs, whatever the weight
        (1, 10, True, True, 1, 1),
        (1, 0, True, True, 1, 1),
        (1, 100, True, True, 1, 1),
        (4, 25, True, True, 3, 1),
        (4, 100, True, True, 1, 4),
        (10, 33, True, True, 6, 4),
        (3, 50, False, True, 3, 0),
        (0, 10, True, True, 1, 1),
    ],
)
def test_track_split(total: int, weight: int, running: bool, exact: bool, stable: int, canary: int) -> None:
    split = track_split(total, weight, canary_running=running, exact_weights=exact)
    assert (split.stable, split.canary) == (stable, canary)


@pytest.mark.parametrize(
    ("min_replicas", "live", "weight", "running", "exact", "expected"),
    [
        (2, None, 0, False, False, Split(2, 0)),  # first reconcile: the Deployment does not exist yet
        (2, 5, 0, False, False, Split(5, 0)),  # the HPA scaled up: kept, not reset to minReplicas
        (2, 4, 20, True, False, Split(4, 1)),  # a canary step adds its share on top of the HPA's count
        (2, 4, 50, True, True, Split(4, 2)),  # gateway-api: the same, at the route's exact weight
        (2, 0, 0, False, False, Split(2, 0)),  # a rolled-back stable restored from zero to the minimum
        (3, 1, 0, False, False, Split(3, 0)),  # below the minimum (e.g. a promoted canary): lifted
    ],
)
def test_autoscaled_split_leaves_the_stable_track_to_the_hpa(
    min_replicas: int, live: int | None, weight: int, running: bool, exact: bool, expected: Split
) -> None:
    split = autoscaled_split(min_replicas, live, weight, canary_running=running, exact_weights=exact)
    assert split == expected


@pytest.mark.parametrize(
    ("decision", "ready", "expected"),
    [
        (Decision("start", "NewVersion", step=0), False, Decision("none", GATEWAY_UNAVAILABLE)),
        (Decision("advance", "AnalysisPassed", step=1), False, Decision("wait", GATEWAY_UNAVAILABLE, step=1)),
        (Decision("promote", "AnalysisPassed", step=1), False, Decision("wait", GATEWAY_UNAVAILABLE, step=1)),
        (
            Decision("await-approval", "AwaitingApproval", step=1),
            False,
            Decision("wait", GATEWAY_UNAVAILABLE, step=1),
        ),
        # what needs no route, and the user's explicit word, goes through
        (Decision("deploy", "FirstVersion"), False, Decision("deploy", "FirstVersion")),
        (Decision("rollback", "ErrorRate"), False, Decision("rollback", "ErrorRate")),
        (
            Decision("promote", "ManualPromotion", manual=frozenset({"promote"})),
            False,
            Decision("promote", "ManualPromotion", manual=frozenset({"promote"})),
        ),
        (Decision("start", "NewVersion", step=0), True, Decision("start", "NewVersion", step=0)),
    ],
)
def test_hold_rollout(decision: Decision, ready: bool, expected: Decision) -> None:
    assert hold_rollout(decision, route_ready=ready) == expected


def test_the_main_service_spans_every_version_in_replicas_mode() -> None:
    service = build_service(md_body(), "credit-1")
    assert service["metadata"]["name"] == "credit"
    assert service["spec"]["selector"] == {"mloop.io/deployment": "credit"}
    assert service["metadata"]["ownerReferences"][0]["uid"] == "0000-3333"
    assert service["metadata"]["labels"]["app.kubernetes.io/part-of"] == "mloop"


def test_the_main_service_selects_the_stable_version_in_gateway_mode() -> None:
    body = md_body(**GATEWAY)
    assert build_service(body, "credit-1")["spec"]["selector"] == {
        "mloop.io/deployment": "credit",
        "mloop.io/version": "credit-1",
    }
    assert build_service(body, None)["spec"]["selector"] == {"mloop.io/deployment": "credit"}


@pytest.mark.parametrize(
    ("track", "selector"),
    [
        ("stable", {"mloop.io/deployment": "credit", "mloop.io/version": "credit-2"}),
        ("canary", {"mloop.io/deployment": "credit", "mloop.io/role": "canary"}),
    ],
)
def test_track_services(track: Any, selector: dict[str, str]) -> None:
    service = build_track_service(md_body(**GATEWAY), track, "credit-2")
    assert service["metadata"]["name"] == f"credit-{track}"
    assert service["metadata"]["namespace"] == "team"
    assert service["metadata"]["labels"]["mloop.io/track"] == track
    assert service["metadata"]["labels"]["mloop.io/deployment"] == "credit"
    assert service["spec"]["selector"] == selector
    assert service["spec"]["ports"][0]["port"] == 8080


def test_httproute_has_both_backends_with_exact_weights() -> None:
    route = build_httproute(md_body(**GATEWAY, hostnames=["credit.example.com"]), RouteWeights(67, 33))
    assert route is not None
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert route["metadata"]["name"] == "credit"
    assert route["metadata"]["ownerReferences"][0]["kind"] == "ModelDeployment"
    assert route["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "mloop-operator"
    spec = route["spec"]
    assert spec["parentRefs"] == [
        {
            "group": "gateway.networking.k8s.io",
            "kind": "Gateway",
            "name": "public",
            "namespace": "infra",
            "sectionName": "https",
        }
    ]
    assert spec["hostnames"] == ["credit.example.com"]
    backends = spec["rules"][0]["backendRefs"]
    assert [(b["name"], b["port"], b["weight"]) for b in backends] == [
        ("credit-stable", 8080, 67),
        ("credit-canary", 8080, 33),
    ]


def test_httproute_always_writes_hostnames_and_only_in_gateway_mode() -> None:
    route = build_httproute(md_body(mode="gateway-api", gatewayRef={"name": "public"}), RouteWeights(100, 0))
    assert route is not None
    assert route["spec"]["hostnames"] == []
    assert "namespace" not in route["spec"]["parentRefs"][0]
    assert build_httproute(md_body(), RouteWeights(100, 0)) is None
