"""A small RBAC authorizer over rendered chart objects: does the operator's ServiceAccount may do X?

Kubernetes semantics for what the chart uses: ClusterRoleBindings grant everywhere, RoleBindings (to a Role
or a ClusterRole) grant in their namespace only; a rule matches on apiGroup, resource[/subresource], verb and
resourceNames. Wildcards are not evaluated: the chart must not contain any (a test says so).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Request", "allowed", "cluster_grants", "rules_of"]


@dataclass(frozen=True, order=True)
class Request:
    """One API request as RBAC sees it; ``namespace`` is empty for cluster-scoped or all-namespace calls."""

    verb: str
    group: str
    resource: str
    namespace: str = ""
    name: str = ""

    @property
    def triple(self) -> tuple[str, str, str]:
        return self.verb, self.group, self.resource


def _rule_allows(rule: Mapping[str, Any], request: Request) -> bool:
    names = rule.get("resourceNames") or []
    return (
        request.group in (rule.get("apiGroups") or [])
        and request.resource in (rule.get("resources") or [])
        and request.verb in (rule.get("verbs") or [])
        and (not names or request.name in names)
    )


def _subject_is(binding: Mapping[str, Any], account: str, namespace: str) -> bool:
    return any(
        s.get("kind") == "ServiceAccount" and s.get("name") == account and s.get("namespace") == namespace
        for s in binding.get("subjects") or []
    )


def rules_of(objects: Iterable[Mapping[str, Any]], kind: str, name: str, namespace: str = "") -> list[Any]:
    for obj in objects:
        meta = obj["metadata"]
        if (
            obj["kind"] == kind
            and meta["name"] == name
            and (kind == "ClusterRole" or meta["namespace"] == namespace)
        ):
            return list(obj.get("rules") or [])
    return []


def allowed(objects: list[dict[str, Any]], account: str, account_namespace: str, request: Request) -> bool:
    """Whether the ServiceAccount ``account_namespace/account`` may make ``request``."""
    for binding in objects:
        if binding["kind"] not in ("ClusterRoleBinding", "RoleBinding"):
            continue
        if not _subject_is(binding, account, account_namespace):
            continue
        binding_ns = binding["metadata"].get("namespace", "")
        if binding["kind"] == "RoleBinding" and binding_ns != request.namespace:
            continue
        ref = binding["roleRef"]
        rules = rules_of(objects, ref["kind"], ref["name"], binding_ns)
        if any(_rule_allows(rule, request) for rule in rules):
            return True
    return False


def cluster_grants(objects: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """(verb, group, resource) of every rule in any Role or ClusterRole the chart renders."""
    return {
        (verb, group, resource)
        for obj in objects
        if obj["kind"] in ("ClusterRole", "Role")
        for rule in obj.get("rules") or []
        for group in rule.get("apiGroups") or []
        for resource in rule.get("resources") or []
        for verb in rule.get("verbs") or []
    }
