"""How traffic reaches the tracks: the Service ``<md>`` in both modes, and in ``gateway-api`` mode the
per-track Services ``<md>-stable`` / ``<md>-canary`` behind one HTTPRoute ``<md>`` with exact weights.

In ``replicas`` mode ``<md>`` spans every version and the replica ratio is the split. With a Gateway the
split is the route's weights, so ``<md>`` selects the stable version only: in-cluster callers that bypass the
Gateway keep getting the stable model and the canary's share stays what the route says. Replicas then only
carry load, but each track keeps at least one while a canary runs: a weight is useless without a pod to take
it, and a stable pod left at a 100% canary step makes a rollback instant.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from mloop.api.modeldeployment import ModelDeployment
from mloop.reconcile.canary import Decision, Split, replica_split
from mloop.reconcile.conditions import Verdict
from mloop.reconcile.naming import child_name
from mloop.reconcile.owners import child_labels, owner_reference
from mloop.reconcile.serving import SERVER_PORT

__all__ = [
    "GATEWAY_UNAVAILABLE",
    "TRACKS",
    "RouteWeights",
    "Track",
    "autoscaled_split",
    "build_httproute",
    "build_service",
    "build_track_service",
    "gateway_unavailable",
    "hold_rollout",
    "route_weights",
    "track_service_name",
    "track_split",
    "uses_gateway",
]

Track = Literal["stable", "canary"]
TRACKS: tuple[Track, ...] = ("stable", "canary")
GATEWAY_UNAVAILABLE = "GatewayAPIUnavailable"
#: Automatic moves that change who gets traffic; without a route they would happen blind.
_NEEDS_ROUTE = frozenset({"start", "advance", "await-approval", "promote"})
_MANUAL_REASONS = frozenset({"ManualPromotion", "ManualAbort", "ManualRollback"})


def uses_gateway(md: ModelDeployment) -> bool:
    return md.spec.traffic.mode == "gateway-api"


@dataclass(frozen=True)
class RouteWeights:
    """The backend weights written in the HTTPRoute; ``share`` is what status reports as the canary's."""

    stable: int
    canary: int

    @property
    def share(self) -> float:
        total = self.stable + self.canary
        return 0.0 if total == 0 else self.canary / total


def route_weights(canary_version: str | None, canary_weight: int) -> RouteWeights:
    """The step's exact weight while a canary runs; everything to stable otherwise (after promotion the
    stable track is the promoted version, after a rollback the old one)."""
    if canary_version is None:
        return RouteWeights(100, 0)
    weight = min(100, max(0, canary_weight))
    return RouteWeights(100 - weight, weight)


def track_split(total: int, weight: int, *, canary_running: bool, exact_weights: bool) -> Split:
    """Replicas per track. Without exact weights (``replicas`` mode) the ratio is the split; with them the
    canary's replicas follow its weight of the total and each track keeps at least one while a canary runs."""
    if not exact_weights:
        return replica_split(total, weight if canary_running else 0)
    total = max(total, 1)
    if not canary_running:
        return Split(total, 0)
    canary = max(1, math.ceil(total * min(100, max(0, weight)) / 100))
    return Split(max(1, total - canary), canary)


def autoscaled_split(
    min_replicas: int, live_stable: int | None, weight: int, *, canary_running: bool, exact_weights: bool
) -> Split:
    """With ``autoscaling`` the HPA owns the stable track's replicas: the operator keeps the count the HPA
    chose (lifted to ``minReplicas``, e.g. a stable restored from zero by a rollback) instead of resetting it
    every reconcile, and a canary gets its weight's share of that count on top."""
    total = max(min_replicas, live_stable or 0)
    split = track_split(total, weight, canary_running=canary_running, exact_weights=exact_weights)
    return Split(total, split.canary)


def hold_rollout(decision: Decision, *, route_ready: bool) -> Decision:
    """Without a route the canary would get no traffic (or be promoted on none): automatic moves wait.
    Manual promote, abort and rollback still apply; they are the operator's explicit word."""
    if route_ready or decision.action not in _NEEDS_ROUTE or decision.reason in _MANUAL_REASONS:
        return decision
    if decision.action == "start":
        return Decision("none", GATEWAY_UNAVAILABLE, manual=decision.manual)
    return Decision("wait", GATEWAY_UNAVAILABLE, step=decision.step, manual=decision.manual)


def gateway_unavailable() -> Verdict:
    return Verdict(
        "Ready",
        "False",
        GATEWAY_UNAVAILABLE,
        "traffic.mode is gateway-api but the cluster does not serve HTTPRoute "
        "(gateway.networking.k8s.io/v1): install the Gateway API CRDs or use traffic.mode: replicas; "
        "rollouts wait until then",
    )


def track_service_name(md_name: str, track: Track) -> str:
    """``<md>-stable`` and ``<md>-canary``: the HTTPRoute's two backends."""
    return child_name(md_name, track)


def _service_labels(md: ModelDeployment, track: Track | None) -> dict[str, str]:
    name = md.metadata.name or ""
    labels = child_labels(
        name="mloop-server", component="server", instance=name, project=md.spec.project_ref.name
    )
    labels["mloop.io/deployment"] = name
    if track:
        labels["mloop.io/track"] = track
    return labels


def _service(
    md_body: Mapping[str, Any], name: str, selector: dict[str, str], track: Track | None
) -> dict[str, Any]:
    md = ModelDeployment.model_validate(md_body)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": md.metadata.namespace,
            "labels": _service_labels(md, track),
            "ownerReferences": [owner_reference(md_body)],
        },
        "spec": {
            "type": "ClusterIP",
            "selector": selector,
            "ports": [{"name": "http", "port": SERVER_PORT, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def build_service(md_body: Mapping[str, Any], stable_version: str | None) -> dict[str, Any]:
    """The Service ``<md>``: every version in ``replicas`` mode (the replica ratio is the split), the stable
    version only in ``gateway-api`` mode (weighted traffic goes through the Gateway)."""
    md = ModelDeployment.model_validate(md_body)
    name = md.metadata.name or ""
    selector = {"mloop.io/deployment": name}
    if uses_gateway(md) and stable_version:
        selector["mloop.io/version"] = stable_version
    return _service(md_body, name, selector, None)


def build_track_service(md_body: Mapping[str, Any], track: Track, stable_version: str) -> dict[str, Any]:
    """One track's backend. The stable one selects by version, so at promotion it moves to the canary's
    already-ready pods at once (the role label only changes as they roll); the canary one selects the canary
    role, which only the canary's Deployment carries."""
    name = ModelDeployment.model_validate(md_body).metadata.name or ""
    selector = {"mloop.io/deployment": name}
    if track == "stable":
        selector["mloop.io/version"] = stable_version
    else:
        selector["mloop.io/role"] = "canary"
    return _service(md_body, track_service_name(name, track), selector, track)


def build_httproute(md_body: Mapping[str, Any], weights: RouteWeights) -> dict[str, Any] | None:
    """The HTTPRoute ``<md>`` on ``traffic.gatewayRef``: both tracks' Services with the exact weights.

    Both backends stay listed at 100/0 so the route's shape never changes, only its numbers; hostnames are
    always written (possibly empty) so that removing the last one from the spec removes it from the route.
    """
    md = ModelDeployment.model_validate(md_body)
    gateway = md.spec.traffic.gateway_ref
    if not uses_gateway(md) or gateway is None:
        return None
    name = md.metadata.name or ""
    parent: dict[str, Any] = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": gateway.name}
    if gateway.namespace:
        parent["namespace"] = gateway.namespace
    if gateway.section_name:
        parent["sectionName"] = gateway.section_name
    backends = [
        {
            "group": "",
            "kind": "Service",
            "name": track_service_name(name, track),
            "port": SERVER_PORT,
            "weight": weight,
        }
        for track, weight in zip(TRACKS, (weights.stable, weights.canary), strict=True)
    ]
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {
            "name": name,
            "namespace": md.metadata.namespace,
            "labels": _service_labels(md, None),
            "ownerReferences": [owner_reference(md_body)],
        },
        "spec": {
            "parentRefs": [parent],
            "hostnames": list(md.spec.traffic.hostnames),
            "rules": [{"backendRefs": backends}],
        },
    }
