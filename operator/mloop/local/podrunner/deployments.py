"""The Deployment controller's decisions (pure): the ReplicaSet for the current template, how many
replicas each ReplicaSet should have (``RollingUpdate`` with maxSurge/maxUnavailable, or
``Recreate``), and the Deployment status.

The rolling step is ``rolloutRolling`` from kube-controller-manager: scale the new ReplicaSet up
within ``replicas + maxSurge``; only when that changed nothing, scale old ones down while keeping
``replicas - maxUnavailable`` available (unhealthy old replicas are removed first).
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .podinfo import owner_reference
from .status import set_condition

__all__ = [
    "HASH_LABEL",
    "REVISION",
    "RsInfo",
    "build_replicaset",
    "deployment_status",
    "fenceposts",
    "plan_replicas",
    "rs_info",
    "template_hash",
]

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"


def template_hash(template: Mapping[str, Any]) -> str:
    """A stable hash of the pod template in the apiserver's safe alphabet (FNV-1a 32 of its JSON)."""
    value = 0x811C9DC5
    for byte in json.dumps(template, sort_keys=True, separators=(",", ":")).encode():
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return "".join(_ALPHANUMS[ord(c) % len(_ALPHANUMS)] for c in str(value))


@dataclass(frozen=True)
class RsInfo:
    """A ReplicaSet as the Deployment controller sees it."""

    name: str
    replicas: int = 0
    status_replicas: int = 0
    ready: int = 0
    available: int = 0
    revision: int = 0
    created: str = ""


def rs_info(rs: Mapping[str, Any]) -> RsInfo:
    """Extract an ``RsInfo``."""
    meta, spec, status = rs.get("metadata") or {}, rs.get("spec") or {}, rs.get("status") or {}
    revision = str((meta.get("annotations") or {}).get(REVISION, "0"))
    return RsInfo(
        name=str(meta.get("name", "")),
        replicas=int(spec.get("replicas", 1)),
        status_replicas=int(status.get("replicas") or 0),
        ready=int(status.get("readyReplicas") or 0),
        available=int(status.get("availableReplicas") or 0),
        revision=int(revision) if revision.isdigit() else 0,
        created=str(meta.get("creationTimestamp", "")),
    )


def _scaled(value: Any, total: int, *, round_up: bool) -> int:
    if isinstance(value, int):
        return value
    text = str(value)
    if text.endswith("%") and text[:-1].isdigit():
        exact = total * int(text[:-1]) / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(text) if text.isdigit() else 0


def fenceposts(deployment: Mapping[str, Any]) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) as numbers; both zero would deadlock, so unavailable becomes 1."""
    spec = deployment.get("spec") or {}
    desired = int(spec.get("replicas", 1))
    rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
    surge = _scaled(rolling.get("maxSurge", "25%"), desired, round_up=True)
    unavailable = _scaled(rolling.get("maxUnavailable", "25%"), desired, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def plan_replicas(
    deployment: Mapping[str, Any], new: RsInfo, olds: Sequence[RsInfo], old_pods_alive: int
) -> dict[str, int]:
    """Target ``spec.replicas`` of every ReplicaSet after one step of the rollout."""
    spec = deployment.get("spec") or {}
    desired = int(spec.get("replicas", 1))
    olds = sorted(olds, key=lambda rs: (rs.created, rs.name))
    result = {rs.name: rs.replicas for rs in [*olds, new]}
    if spec.get("paused"):
        return result
    if (spec.get("strategy") or {}).get("type") == "Recreate":
        if any(rs.replicas for rs in olds):
            return result | {rs.name: 0 for rs in olds}
        return result | {new.name: desired if old_pods_alive == 0 else new.replicas}
    surge, unavailable = fenceposts(deployment)
    if new.replicas > desired:
        return result | {new.name: desired}
    if new.replicas < desired:
        room = desired + surge - sum(result.values())
        step = min(max(room, 0), desired - new.replicas)
        if step > 0:
            return result | {new.name: new.replicas + step}
    min_available = desired - unavailable
    budget = sum(result.values()) - min_available - (new.replicas - new.available)
    for rs in olds:  # unhealthy old replicas first: removing them costs no availability
        unhealthy = rs.replicas - rs.available
        if budget <= 0 or rs.replicas == 0 or unhealthy <= 0:
            continue
        cut = min(budget, unhealthy)
        result[rs.name] -= cut
        budget -= cut
    available = sum(rs.available for rs in [*olds, new])
    scale_down = available - min_available
    for rs in olds:
        if scale_down <= 0:
            break
        cut = min(result[rs.name], scale_down)
        result[rs.name] -= cut
        scale_down -= cut
    return result


def build_replicaset(
    deployment: Mapping[str, Any], pod_hash: str, revision: int, replicas: int
) -> dict[str, Any]:
    """The ReplicaSet for the Deployment's current template."""
    meta, spec = deployment["metadata"], deployment.get("spec") or {}
    template = copy.deepcopy(dict(spec.get("template") or {}))
    template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = pod_hash
    selector = copy.deepcopy(dict(spec.get("selector") or {}))
    selector.setdefault("matchLabels", {})[HASH_LABEL] = pod_hash
    surge, _ = fenceposts(deployment)
    desired = int(spec.get("replicas", 1))
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{meta['name']}-{pod_hash}",
            "namespace": meta.get("namespace", "default"),
            "labels": dict(template["metadata"]["labels"]),
            "annotations": {
                REVISION: str(revision),
                "deployment.kubernetes.io/desired-replicas": str(desired),
                "deployment.kubernetes.io/max-replicas": str(desired + surge),
            },
            "ownerReferences": [owner_reference(deployment)],
        },
        "spec": {"replicas": replicas, "selector": selector, "template": template},
    }
    if spec.get("minReadySeconds"):
        body["spec"]["minReadySeconds"] = spec["minReadySeconds"]
    return body


def deployment_status(
    deployment: Mapping[str, Any], new: RsInfo | None, olds: Sequence[RsInfo], now: str
) -> dict[str, Any]:
    """Counts summed over the ReplicaSets, and the Available and Progressing conditions."""
    meta, spec = deployment.get("metadata") or {}, deployment.get("spec") or {}
    desired = int(spec.get("replicas", 1))
    everyone = [*olds, *([new] if new else [])]
    available = sum(rs.available for rs in everyone)
    status: dict[str, Any] = copy.deepcopy(dict(deployment.get("status") or {}))
    status.update(
        {
            "observedGeneration": int(meta.get("generation") or 1),
            "replicas": sum(rs.status_replicas for rs in everyone),
            "updatedReplicas": new.status_replicas if new else 0,
            "readyReplicas": sum(rs.ready for rs in everyone),
            "availableReplicas": available,
            "unavailableReplicas": max(sum(rs.replicas for rs in everyone) - available, 0),
        }
    )
    _, unavailable = fenceposts(deployment)
    conditions = status.get("conditions") or []
    if available >= desired - unavailable:
        reason, message, ok = "MinimumReplicasAvailable", "Deployment has minimum availability.", True
    else:
        reason, message, ok = (
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
            False,
        )
    conditions = set_condition(
        conditions, "Available", ok, now, reason=reason, message=message, update_time=True
    )
    name = new.name if new else ""
    complete = (
        new is not None
        and new.status_replicas == desired
        and new.available == desired
        and sum(rs.status_replicas for rs in olds) == 0
    )
    if complete:
        reason, message = "NewReplicaSetAvailable", f'ReplicaSet "{name}" has successfully progressed.'
    else:
        reason, message = "ReplicaSetUpdated", f'ReplicaSet "{name}" is progressing.'
    conditions = set_condition(
        conditions, "Progressing", True, now, reason=reason, message=message, update_time=True
    )
    status["conditions"] = conditions
    return status
