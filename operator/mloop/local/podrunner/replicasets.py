"""The ReplicaSet controller's decisions (pure): pods to create or delete, and the RS status.

Which pods go first on scale-down follows ``controller.ActivePods``: unscheduled before
scheduled, Pending before Running, not ready before ready, ready for less time first, more
restarts first, newest first.
"""

from __future__ import annotations

import copy
import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .podinfo import PodInfo, pod_from_template

__all__ = ["ReplicaSetPlan", "build_replicaset_pod", "deletion_order", "plan_replicaset"]

_PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}


@dataclass(frozen=True)
class ReplicaSetPlan:
    """What to do for one ReplicaSet in one pass."""

    status: dict[str, Any]
    create: int = 0
    delete: tuple[str, ...] = ()


def deletion_order(pods: Sequence[PodInfo]) -> list[PodInfo]:
    """Active pods, the first to delete first."""
    epoch = datetime.datetime.min.replace(tzinfo=datetime.UTC)

    def key(pod: PodInfo) -> tuple[Any, ...]:
        ready_since = pod.ready_since or epoch
        return (
            bool(pod.node),
            _PHASE_RANK.get(pod.phase, 1),
            pod.ready,
            -ready_since.timestamp() if pod.ready else 0.0,
            -pod.restarts,
        )

    newest_first = sorted(pods, key=lambda p: (p.created, p.name), reverse=True)
    return sorted(newest_first, key=key)


def plan_replicaset(rs: Mapping[str, Any], pods: Sequence[PodInfo], now: datetime.datetime) -> ReplicaSetPlan:
    """Reach ``spec.replicas`` active pods; status reflects the pods observed in this pass."""
    spec = rs.get("spec") or {}
    desired = int(spec.get("replicas", 1))
    min_ready = int(spec.get("minReadySeconds") or 0)
    active = [p for p in pods if p.active]
    status: dict[str, Any] = copy.deepcopy(dict(rs.get("status") or {}))
    status.update(
        {
            "replicas": len(active),
            "fullyLabeledReplicas": len(active),
            "readyReplicas": sum(p.ready for p in active),
            "availableReplicas": sum(p.available(min_ready, now) for p in active),
            "observedGeneration": int((rs.get("metadata") or {}).get("generation") or 1),
        }
    )
    if len(active) < desired:
        return ReplicaSetPlan(status=status, create=desired - len(active))
    doomed = deletion_order(active)[: len(active) - desired]
    return ReplicaSetPlan(status=status, delete=tuple(p.name for p in doomed))


def build_replicaset_pod(rs: Mapping[str, Any]) -> dict[str, Any]:
    """A pod for ``rs`` from its template (the template already carries ``pod-template-hash``)."""
    template = (rs.get("spec") or {}).get("template") or {}
    return pod_from_template(rs, template, rs["metadata"]["name"])
