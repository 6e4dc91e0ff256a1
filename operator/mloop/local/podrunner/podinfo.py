"""The few facts controllers read from a Pod, and ownership helpers (pure)."""

from __future__ import annotations

import copy
import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .status import parse_time

__all__ = ["PodInfo", "by_controller", "controller_ref", "owner_reference", "pod_from_template", "pod_info"]


@dataclass(frozen=True)
class PodInfo:
    """A pod as the Job and ReplicaSet controllers see it."""

    name: str
    uid: str = ""
    phase: str = "Pending"
    ready: bool = False
    deleting: bool = False
    restarts: int = 0
    created: str = ""
    node: str = ""
    ready_since: datetime.datetime | None = None
    finished: datetime.datetime | None = None

    @property
    def active(self) -> bool:
        """Counts toward replicas or a Job's ``active``: not terminal and not being deleted."""
        return self.phase not in ("Succeeded", "Failed") and not self.deleting

    def available(self, min_ready_seconds: int, now: datetime.datetime) -> bool:
        """Ready for at least ``minReadySeconds``."""
        if not (self.active and self.ready):
            return False
        if min_ready_seconds <= 0:
            return True
        since = self.ready_since or now
        return (now - since).total_seconds() >= min_ready_seconds


def pod_info(pod: Mapping[str, Any]) -> PodInfo:
    """Extract a ``PodInfo``."""
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    ready_condition: dict[str, Any] = next(
        (c for c in status.get("conditions") or [] if c.get("type") == "Ready"), {}
    )
    statuses = status.get("containerStatuses") or []
    finished = [parse_time((s.get("state") or {}).get("terminated", {}).get("finishedAt")) for s in statuses]
    moments = [f for f in finished if f is not None]
    return PodInfo(
        name=str(meta.get("name", "")),
        uid=str(meta.get("uid", "")),
        phase=str(status.get("phase") or "Pending"),
        ready=ready_condition.get("status") == "True",
        deleting=bool(meta.get("deletionTimestamp")),
        restarts=sum(int(s.get("restartCount") or 0) for s in statuses),
        created=str(meta.get("creationTimestamp", "")),
        node=str((pod.get("spec") or {}).get("nodeName") or ""),
        ready_since=parse_time(ready_condition.get("lastTransitionTime")) if ready_condition else None,
        finished=max(moments) if moments else None,
    )


def controller_ref(obj: Mapping[str, Any]) -> str | None:
    """The uid of the owner with ``controller: true``."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("uid"))
    return None


def by_controller(objects: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Objects grouped by their controller's uid (objects without one are left out)."""
    index: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        uid = controller_ref(obj)
        if uid:
            index.setdefault(uid, []).append(obj)
    return index


def owner_reference(owner: Mapping[str, Any]) -> dict[str, Any]:
    """A controller ownerReference to ``owner`` (so deleting it cascades)."""
    meta = owner["metadata"]
    return {
        "apiVersion": owner.get("apiVersion", ""),
        "kind": owner.get("kind", ""),
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def pod_from_template(owner: Mapping[str, Any], template: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """A new Pod from a pod template: labels, annotations and spec copied, owned by ``owner``."""
    meta = template.get("metadata") or {}
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": f"{prefix}-",
            "namespace": owner["metadata"].get("namespace", "default"),
            "labels": dict(meta.get("labels") or {}),
            "ownerReferences": [owner_reference(owner)],
        },
        "spec": copy.deepcopy(dict(template.get("spec") or {})),
    }
    if meta.get("annotations"):
        body["metadata"]["annotations"] = dict(meta["annotations"])
    return body
