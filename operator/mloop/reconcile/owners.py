"""ownerReferences and the labels every child carries, built from the parent's metadata alone."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["child_labels", "owner_reference"]


def owner_reference(parent: Mapping[str, Any], *, controller: bool = True) -> dict[str, Any]:
    """The ownerReference that makes the garbage collector delete ``parent``'s children with it."""
    meta = parent["metadata"]
    return {
        "apiVersion": parent["apiVersion"],
        "kind": parent["kind"],
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": controller,
        "blockOwnerDeletion": True,
    }


def child_labels(*, name: str, component: str, instance: str, project: str | None = None) -> dict[str, str]:
    """``app.kubernetes.io/*`` labels plus ours, so users and NetworkPolicies can select children."""
    labels = {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/instance": instance,
        "app.kubernetes.io/part-of": "mloop",
        "app.kubernetes.io/managed-by": "mloop-operator",
    }
    if project:
        labels["mloop.io/project"] = project
    return labels
