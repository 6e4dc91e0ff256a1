"""Pure builders of Pod status and of conditions, shared by the kubelet and the controllers.

Timestamps are passed in as strings, and a condition's ``lastTransitionTime`` only moves when its
status flips, so rebuilding the same state gives an identical status: a settled pod costs no writes.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ContainerView",
    "Running",
    "Terminated",
    "Waiting",
    "container_status",
    "format_time",
    "parse_time",
    "pod_phase",
    "pod_status",
    "set_condition",
]


def format_time(moment: datetime.datetime) -> str:
    """Kubernetes' RFC 3339, second precision, UTC."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str | None) -> datetime.datetime | None:
    """The inverse of ``format_time`` (None for missing or malformed values)."""
    if not text:
        return None
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass(frozen=True)
class Waiting:
    """Not started yet, or between restarts."""

    reason: str = "ContainerCreating"
    message: str = ""


@dataclass(frozen=True)
class Running:
    """The process is alive."""

    started_at: str


@dataclass(frozen=True)
class Terminated:
    """The process ended (or never could start)."""

    exit_code: int
    reason: str
    started_at: str = ""
    finished_at: str = ""
    message: str = ""


State = Waiting | Running | Terminated


@dataclass
class ContainerView:
    """What the kubelet knows about one container, enough to render its status."""

    name: str
    image: str
    state: State = field(default_factory=Waiting)
    last_state: Terminated | None = None
    restart_count: int = 0
    ready: bool = False
    started: bool = False


def _state_dict(state: State | None) -> dict[str, Any]:
    if isinstance(state, Waiting):
        waiting = {"reason": state.reason} | ({"message": state.message} if state.message else {})
        return {"waiting": waiting}
    if isinstance(state, Running):
        return {"running": {"startedAt": state.started_at}}
    if isinstance(state, Terminated):
        body: dict[str, Any] = {"exitCode": state.exit_code, "reason": state.reason}
        if state.message:
            body["message"] = state.message
        if state.started_at:
            body["startedAt"] = state.started_at
        if state.finished_at:
            body["finishedAt"] = state.finished_at
        return {"terminated": body}
    return {}


def container_status(view: ContainerView, container_id: str) -> dict[str, Any]:
    """One ``containerStatuses`` entry."""
    return {
        "name": view.name,
        "image": view.image,
        "imageID": "",
        "containerID": container_id,
        "ready": view.ready,
        "started": view.started,
        "restartCount": view.restart_count,
        "state": _state_dict(view.state),
        "lastState": _state_dict(view.last_state),
    }


def pod_phase(restart_policy: str, views: Sequence[ContainerView]) -> str:
    """The kubelet's ``getPhase``: a restarting container counts as running."""
    running = sum(
        isinstance(v.state, Running) or (isinstance(v.state, Waiting) and v.last_state is not None)
        for v in views
    )
    stopped = [v.state for v in views if isinstance(v.state, Terminated)]
    waiting = len(views) - running - len(stopped)
    if waiting:
        return "Pending"
    if running:
        return "Running"
    succeeded = sum(s.exit_code == 0 for s in stopped)
    if restart_policy == "Always":
        return "Running"
    if succeeded == len(stopped):
        return "Succeeded"
    return "Running" if restart_policy == "OnFailure" else "Failed"


def set_condition(
    conditions: Iterable[Mapping[str, Any]],
    type_: str,
    status: bool,
    now: str,
    *,
    reason: str = "",
    message: str = "",
    update_time: bool = False,
    probe_time: bool = False,
) -> list[dict[str, Any]]:
    """Conditions with ``type_`` set; ``lastTransitionTime`` kept unless the status flips.

    ``update_time`` adds Deployment-style ``lastUpdateTime``, moved when reason or message change.
    """
    result: list[dict[str, Any]] = []
    found = False
    text = "True" if status else "False"
    for old in conditions:
        if old.get("type") != type_:
            result.append(dict(old))
            continue
        found = True
        new: dict[str, Any] = {"type": type_, "status": text}
        new["lastTransitionTime"] = old.get("lastTransitionTime", now) if old.get("status") == text else now
        changed = (old.get("reason", ""), old.get("message", "")) != (reason, message)
        if update_time:
            new["lastUpdateTime"] = (
                now if changed or old.get("status") != text else old.get("lastUpdateTime", now)
            )
        if probe_time:
            new["lastProbeTime"] = old.get("lastProbeTime", now) if not changed else now
        result.append(new | _reason(reason, message))
    if not found:
        new = {"type": type_, "status": text, "lastTransitionTime": now}
        if update_time:
            new["lastUpdateTime"] = now
        if probe_time:
            new["lastProbeTime"] = now
        result.append(new | _reason(reason, message))
    return result


def _reason(reason: str, message: str) -> dict[str, str]:
    return ({"reason": reason} if reason else {}) | ({"message": message} if message else {})


def pod_status(
    old: Mapping[str, Any],
    *,
    restart_policy: str,
    views: Sequence[ContainerView],
    container_ids: Mapping[str, str],
    pod_ip: str,
    now: str,
    reason: str = "",
    message: str = "",
    phase: str | None = None,
) -> dict[str, Any]:
    """The whole ``status`` of a pod on this node, keeping transition times from ``old``."""
    phase = phase or pod_phase(restart_policy, views)
    conditions: list[dict[str, Any]] = [dict(c) for c in old.get("conditions") or []]
    ready = bool(views) and all(v.ready for v in views) and phase == "Running"
    for type_, value in (
        ("PodScheduled", True),
        ("Initialized", True),
        ("ContainersReady", ready),
        ("Ready", ready),
    ):
        conditions = set_condition(conditions, type_, value, now)
    conditions = _ordered(conditions)
    status: dict[str, Any] = {
        "phase": phase,
        "conditions": conditions,
        "hostIP": "127.0.0.1",
        "hostIPs": [{"ip": "127.0.0.1"}],
        "startTime": old.get("startTime") or now,
        "qosClass": old.get("qosClass") or "BestEffort",
        "containerStatuses": [container_status(v, container_ids.get(v.name, "")) for v in views],
    }
    if pod_ip:
        status["podIP"] = pod_ip
        status["podIPs"] = [{"ip": pod_ip}]
    if reason:
        status["reason"] = reason
    if message:
        status["message"] = message
    return status


_ORDER = {"PodScheduled": 0, "Initialized": 1, "ContainersReady": 2, "Ready": 3}


def _ordered(conditions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(conditions, key=lambda c: _ORDER.get(str(c.get("type")), 9))
