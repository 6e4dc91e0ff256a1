"""Which NetworkPolicies select a pod: label-selector semantics, reusable for any builder's pod template."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["assert_selected", "matches", "selecting"]


def matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """``metav1.LabelSelector`` semantics; the empty selector matches everything."""
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[op]
        if not ok:
            return False
    return True


def selecting(
    policies: list[dict[str, Any]], namespace: str, labels: Mapping[str, str]
) -> list[dict[str, Any]]:
    """The NetworkPolicies in ``namespace`` whose podSelector matches a pod with ``labels``."""
    return [
        p
        for p in policies
        if p["kind"] == "NetworkPolicy"
        and p["metadata"].get("namespace") == namespace
        and matches(p["spec"]["podSelector"], labels)
    ]


def assert_selected(policies: list[dict[str, Any]], namespace: str, labels: Mapping[str, str]) -> None:
    """Fail unless a NetworkPolicy with both Ingress and Egress types selects the pod."""
    found = selecting(policies, namespace, labels)
    assert found, f"no NetworkPolicy in {namespace} selects a pod labelled {dict(labels)}"
    types = {t for p in found for t in p["spec"].get("policyTypes") or []}
    assert types >= {"Ingress", "Egress"}, (
        f"pod {dict(labels)} in {namespace}: only {sorted(types)} restricted"
    )
