"""Pure helpers of the ``scale`` and ``log`` subresources."""

from __future__ import annotations

from typing import Any

from .errors import ApiError
from .selectors import selector_from_label_selector

__all__ = ["replicas_from_scale", "scale_of", "tail_lines"]


def scale_of(obj: dict[str, Any]) -> dict[str, Any]:
    """The ``autoscaling/v1`` Scale view of a Deployment, ReplicaSet or StatefulSet."""
    meta = obj["metadata"]
    keys = ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {k: meta[k] for k in keys if k in meta},
        "spec": {"replicas": obj.get("spec", {}).get("replicas", 0)},
        "status": {
            "replicas": obj.get("status", {}).get("replicas", 0),
            "selector": selector_from_label_selector(obj.get("spec", {}).get("selector")),
        },
    }


def replicas_from_scale(name: str, scale: dict[str, Any]) -> int:
    """``spec.replicas`` of a written Scale, or the apiserver's 422."""
    replicas = (scale.get("spec") or {}).get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise ApiError(
            422,
            f'Scale.autoscaling "{name}" is invalid: spec.replicas: Invalid value: {replicas}: '
            "must be greater than or equal to 0",
            reason="Invalid",
        )
    return replicas


def tail_lines(text: str, tail: str | None) -> str:
    """The last ``tailLines`` lines of a pod log (all of it without the parameter)."""
    if not tail:
        return text
    count = int(tail)
    return "".join(text.splitlines(keepends=True)[-count:]) if count > 0 else ""
